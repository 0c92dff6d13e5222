"""Drop every picture from the outputs of Jupyter notebooks, keeping their text (printed numbers, tables).

    python scripts/strip_notebook_images.py notebooks/*.ipynb

The tutorials show photos of the research datasets in ``../shared/data`` (DeepFashion, VITON, Market-1501, CCP),
which may not be redistributed: a notebook that kept its figures would carry copies of them in the repository.
``make notebooks`` runs this after executing them; ``tests/test_notebooks.py`` fails on a notebook with a picture.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def is_picture(output: dict) -> bool:
    """An output cell that holds an image (PNG, JPEG, SVG, ...) in any of its representations."""
    return any(kind.startswith("image/") for kind in output.get("data", {}))


def strip(path: Path) -> int:
    """Remove the picture outputs of one notebook in place; returns how many were removed."""
    nb = json.loads(path.read_text())
    removed = 0
    for cell in nb.get("cells", []):
        outputs = cell.get("outputs")
        if outputs:
            kept = [o for o in outputs if not is_picture(o)]
            removed += len(outputs) - len(kept)
            cell["outputs"] = kept
    if removed:
        path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")  # as nbformat writes
    return removed


def main(paths: list[str]) -> int:
    for p in paths:
        print(f"{p}: {strip(Path(p))} pictures removed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
