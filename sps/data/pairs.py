"""``pairs.csv``: rows ``from,to`` naming two images of the same person (evaluation pairs)."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import DataError
from .paths import KEYPOINTS_FILE


def pair_rows(path: Path) -> Iterator[tuple[int, tuple[str, str] | None, str]]:
    """(line number, (from, to) or None when malformed, the line) for every non-empty row after the header."""
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or (lineno == 1 and line.replace(" ", "").lower() == "from,to"):
            continue
        cols = [c.strip() for c in line.split(",")]
        ok = len(cols) == 2 and all(cols)
        yield lineno, ((cols[0], cols[1]) if ok else None), line


def malformed(path: Path, lineno: int, line: str) -> str:
    """The message for a row that is not ``from,to``."""
    return f"{path}:{lineno}: expected 'from,to', got {line.strip()[:80]!r}"


def unknown(path: Path, lineno: int, name: str) -> str:
    """The message for a pair member without a keypoints row."""
    return f"{path}:{lineno}: image {name!r} is not in {KEYPOINTS_FILE}"


def read_pairs(path: str | Path, names: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """Read ``from,to`` rows; errors (wrong column count, an image not in ``names``) name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"pairs file not found: {path}")
    known = set(names) if names is not None else None
    pairs = []
    for lineno, pair, line in pair_rows(path):
        if pair is None:
            raise DataError(malformed(path, lineno, line))
        for name in pair if known is not None else ():
            if name not in known:
                raise DataError(unknown(path, lineno, name))
        pairs.append(pair)
    return pairs
