"""Parsing label sets of a folder: ``"lip"`` (LIP-20, VITON) merged to the paper's 10 labels, or ``"sps"``.

``"auto"`` picks ``"lip"`` when the folder or its parent is named like ``viton`` or ``lip`` (as words:
``viton/train``, ``lip_val``), and ``"sps"`` otherwise.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .. import parsing as P
from ..errors import DataError

LABEL_SETS = ("auto", "lip", "sps")
_LIP_NAME = re.compile(r"(^|[^a-z])(viton|lip)([^a-z]|$)")  # "viton", "lip_val", not "flip"


def detect_label_set(folder: str | Path, label_set: str = "auto") -> str:
    """Resolve ``"auto"`` to ``"lip"`` (a path part named like viton/lip) or ``"sps"``."""
    if label_set not in LABEL_SETS:
        raise DataError(f"label_set must be one of {LABEL_SETS}, got {label_set!r}")
    if label_set != "auto":
        return label_set
    parts = [p.lower() for p in Path(folder).resolve().parts[-2:]]  # the folder and its parent (viton/train)
    return "lip" if any(_LIP_NAME.search(p) for p in parts) else "sps"


def num_labels(label_set: str) -> int:
    """How many label ids a resolved label set ("lip" or "sps") allows."""
    return len(P.LIP_LABELS) if label_set == "lip" else P.NUM_LABELS


def to_sps_labels(labels: np.ndarray, label_set: str, where: str) -> np.ndarray:
    """An (H, W) map of a resolved label set -> (H, W) int64 sps labels (LIP merged, sps range-checked)."""
    return P.merge_lip(labels, where=where) if label_set == "lip" else P.validate_labels(labels, where=where)
