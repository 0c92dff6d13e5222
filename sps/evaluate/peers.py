"""Published outputs of earlier methods on our pairs (``data/*/peers/METHOD/FROM__TO.png``)."""
from __future__ import annotations

from pathlib import Path

from ..errors import DataError

# Folder name -> how the method is cited in tables.
PEER_NAMES = {"defgan": "Deformable GANs (Siarohin et al. 2018)", "vunet": "VUNet (Esser et al. 2018)",
              "pg2": "PG2 (Ma et al. 2017)"}
SEPARATOR = "__"


def peer_label(folder_name: str) -> str:
    return PEER_NAMES.get(folder_name, folder_name)


def read_peers(folder: str | Path, names: set[str] | None = None) -> dict[str, dict[tuple[str, str], Path]]:
    """{method folder: {(from, to) image names: output path}} for every ``FROM__TO.png`` under ``folder/METHOD/``.

    ``names``: the image names of the person folder (with extension); a file whose stems match no image is an
    error, so that a renamed photo cannot silently drop pairs.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"peers folder not found: {folder}")
    by_stem = {Path(n).stem: n for n in names} if names is not None else None
    out: dict[str, dict[tuple[str, str], Path]] = {}
    for method in sorted(p for p in folder.iterdir() if p.is_dir()):
        pairs = {}
        for f in sorted(method.glob("*.png")):
            a, sep, b = f.stem.partition(SEPARATOR)
            if not (sep and a and b):
                raise DataError(f"{f}: expected FROM{SEPARATOR}TO.png")
            if by_stem is not None:
                if a not in by_stem or b not in by_stem:
                    raise DataError(f"{f}: no image named {a if a not in by_stem else b} in the person folder")
                a, b = by_stem[a], by_stem[b]
            pairs[(a, b)] = f
        if pairs:
            out[method.name] = pairs
    if not out:
        raise DataError(f"{folder}: no METHOD/FROM{SEPARATOR}TO.png outputs found")
    return out
