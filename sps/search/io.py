"""Pseudo-pair CSV: ``source,candidate,score,margin`` (+ ``dataset`` when several folders were searched into one
file) (+ ``flip,scale,candidate_dataset`` when candidates may be flipped, rescaled or come from another folder).

``flip`` (0/1) and ``scale`` say how the candidate was shown when it won (``sps.search.variants``): a reader must
apply them to the candidate's map and keypoints (``read_pseudo_pairs(..., variants=True)`` says it will).
``candidate_dataset`` names the candidate's folder when it is not the source's (empty: the same folder).
A source with no qualifying candidate is written with an empty ``candidate`` (so a resumed run
knows it is done); ``read_pseudo_pairs`` skips such rows unless asked not to.
"""
from __future__ import annotations

import argparse
import csv
import math
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError

COLUMNS = ("source", "candidate", "score", "margin")
VARIANT_COLUMNS = ("flip", "scale", "candidate_dataset")


@dataclass(frozen=True)
class PseudoPair:
    """One searched training triple: G_S learns source parsing + pose -> candidate parsing in candidate pose."""

    source: str
    candidate: str
    score: float
    margin: float
    dataset: str = ""
    flip: bool = False          # the candidate is used mirrored (left/right swapped) ...
    scale: float = 1.0          # ... then rescaled about its centre (sps.search.variants.apply_variant)
    candidate_dataset: str = ""  # the candidate's folder when it differs from the source's

    @property
    def is_plain(self) -> bool:
        """The candidate is used as it is, from the source's folder."""
        return not self.flip and self.scale == 1.0 and not self.candidate_dataset


def _repair_tail(path: Path) -> None:
    """Drop a partial last line left by an interrupted writer."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


def read_pseudo_pairs(path: str | Path, skip_empty: bool = True, max_score: float | None = None,
                      min_margin: float | None = None, variants: bool = False) -> list[PseudoPair]:
    """Read a pseudo-pair CSV written by ``python -m sps.search``.

    Args:
        skip_empty: drop sources without a candidate.
        max_score: keep only pairs with score <= max_score (a quality filter for training).
        min_margin: keep only pairs whose runner-up margin is >= min_margin (nan margins are kept).
        variants: the caller applies ``flip`` / ``scale`` and opens ``candidate_dataset``; without it a file
            holding such pairs raises DataError (a reader that ignored them would learn wrong labels).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pseudo-pair file not found: {path}")
    out = []
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}: missing columns {missing} (header: {reader.fieldnames})")
        for lineno, row in enumerate(reader, start=2):
            if row.get("margin") is None:  # partial last line of an interrupted run
                continue
            try:
                score = float(row["score"]) if row["score"] else math.nan
                margin = float(row["margin"]) if row["margin"] else math.nan
            except ValueError as e:
                raise DataError(f"{path}:{lineno}: bad number ({e})") from None
            if not row["candidate"] and skip_empty:
                continue
            if max_score is not None and not score <= max_score:
                continue
            if min_margin is not None and margin < min_margin:
                continue
            pair = PseudoPair(row["source"], row["candidate"], score, margin, row.get("dataset") or "",
                              *_variant_of(row, f"{path}:{lineno}"))
            if not variants and not pair.is_plain and pair.candidate:
                raise DataError(f"{path}:{lineno}: the candidate is flipped, rescaled or from another folder; "
                                "read with variants=True and apply them (sps.search.variants)")
            out.append(pair)
    return out


def _variant_of(row: dict[str, str], where: str) -> tuple[bool, float, str]:
    """(flip, scale, candidate_dataset) of a CSV row (defaults where the columns are absent)."""
    try:
        flip = bool(int(row.get("flip") or 0))
        scale = float(row.get("scale") or 1.0)
    except ValueError as e:
        raise DataError(f"{where}: bad flip/scale ({e})") from None
    return flip, scale, row.get("candidate_dataset") or ""


def finished_sources(path: str | Path) -> set[tuple[str, str]]:
    """(dataset, source) pairs already in a CSV (empty set if the file does not exist)."""
    path = Path(path)
    if not path.is_file():
        return set()
    _repair_tail(path)
    return {(p.dataset, p.source) for p in read_pseudo_pairs(path, skip_empty=False, variants=True)}


class PairWriter:
    """Appends rows to a pair CSV (header written once), flushing after each ``write``; ``with_variant`` adds the
    ``flip,scale,candidate_dataset`` columns."""

    def __init__(self, path: str | Path, with_dataset: bool = False, with_variant: bool = False) -> None:
        self.path = Path(path)
        self.columns = COLUMNS + (("dataset",) if with_dataset else ()) + (VARIANT_COLUMNS if with_variant else ())
        exists = self.path.is_file() and self.path.stat().st_size > 0
        if exists:
            _repair_tail(self.path)
            with self.path.open(newline="") as fh:
                header = tuple(next(csv.reader(fh), ()))
            if header != self.columns:
                raise DataError(f"{self.path}: existing columns {header} differ from {self.columns}; "
                                "write to a new file or search the same folders")
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("a", newline="")
        self._w = csv.writer(self._fh, lineterminator="\n")
        if not exists:
            self._w.writerow(self.columns)
            self._fh.flush()

    def write(self, pairs: list[PseudoPair]) -> None:
        for p in pairs:
            if not p.is_plain and "flip" not in self.columns:
                raise ValueError(f"{self.path}: pair {p.source} -> {p.candidate} has a variant; open with_variant")
            row = [p.source, p.candidate, _fmt(p.score), _fmt(p.margin)]
            row += [p.dataset] if "dataset" in self.columns else []
            row += [str(int(p.flip)), f"{p.scale:g}", p.candidate_dataset] if "flip" in self.columns else []
            self._w.writerow(row)
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> PairWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _fmt(x: float) -> str:
    return "" if math.isnan(x) else f"{x:.6f}"


def parse_size(text: str) -> tuple[int, int]:
    """A command-line canvas size "HxW" (e.g. "64x48") -> (H, W); an argparse type."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 64x48, got {text!r}") from None
    return h, w
