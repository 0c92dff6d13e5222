"""The tutorials keep their printed text but no pictures: their figures show photos of the research datasets, which
may not be copied into the repository (``scripts/strip_notebook_images.py``, run by ``make notebooks``)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STRIP = REPO / "scripts" / "strip_notebook_images.py"


def test_no_notebook_stores_a_picture():
    notebooks = sorted((REPO / "notebooks").glob("*.ipynb"))
    assert len(notebooks) == 8
    for path in notebooks:
        for i, cell in enumerate(json.loads(path.read_text())["cells"]):
            for out in cell.get("outputs", []):
                kinds = [k for k in out.get("data", {}) if k.startswith("image/")]
                assert not kinds, f"{path.name} cell {i} stores {kinds}: run {STRIP.relative_to(REPO)}"


def test_strip_removes_pictures_and_keeps_text(tmp_path):
    nb = {"cells": [{"cell_type": "code", "execution_count": 1, "id": "a", "metadata": {}, "source": ["x"],
                     "outputs": [{"name": "stdout", "output_type": "stream", "text": ["SSIM 0.607\n"]},
                                 {"data": {"image/png": "iVBORw0KGgo=", "text/plain": ["<Figure>"]},
                                  "metadata": {}, "output_type": "display_data"},
                                 {"data": {"text/html": ["<table></table>"]}, "execution_count": 1, "metadata": {},
                                  "output_type": "execute_result"}]},
                      {"cell_type": "markdown", "id": "b", "metadata": {}, "source": ["# title"]}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps(nb, indent=1, sort_keys=True) + "\n")
    out = subprocess.run([sys.executable, str(STRIP), str(path)], capture_output=True, text=True, check=True)
    assert "1 pictures removed" in out.stdout
    kept = json.loads(path.read_text())["cells"][0]["outputs"]
    assert [o["output_type"] for o in kept] == ["stream", "execute_result"] and kept[0]["text"] == ["SSIM 0.607\n"]
    before = path.read_text()
    subprocess.run([sys.executable, str(STRIP), str(path)], capture_output=True, check=True)
    assert path.read_text() == before  # nothing left to strip: the file is not rewritten
