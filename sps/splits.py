"""Held-out splits for the folders that come without one (DeepFashion, Market).

All DeepFashion and Market images in the shared data appear in their ``pairs.csv``. So that the
evaluation pairs stay unseen, training uses only the images of the *train* identities, and the
evaluation reports the pairs of the *test* identities. The split is by identity (DeepFashion's
``idXXXXXXXX`` outfit id, Market's person number), fixed by a CRC32 hash: stable across machines
and independent of file order.
"""
from __future__ import annotations

import re
import zlib

_DEEPFASHION_ID = re.compile(r"id(\d{8})")


def identity(name: str) -> str:
    """The person/outfit identity of an image name (DeepFashion outfit id, Market person id, else the stem)."""
    m = _DEEPFASHION_ID.search(name)
    if m:
        return m.group(1)
    stem = name.rsplit(".", 1)[0]
    if re.fullmatch(r"\d{4}_c\d.*", stem):  # Market-1501: 0001_c3s1_000551_03
        return stem[:4]
    return stem


def split_of(name: str, test_fraction: float = 0.5) -> str:
    """'train' or 'test' for an image name, by a hash of its identity."""
    bucket = zlib.crc32(identity(name).encode()) % 1000
    return "test" if bucket < test_fraction * 1000 else "train"
