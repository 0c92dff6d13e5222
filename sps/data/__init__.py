"""Data layer: the data root, decoding photos and label maps, the person dataset, pairs and a folder checker.

A *person folder* holds ``images/*.jpg``, ``keypoints.csv`` (``name: [y ...]: [x ...]``, see sps.pose), optionally
``parsing/<stem>.png`` (one label id per pixel) and ``pairs.csv`` (``from,to``).

Modules, one job each:

- ``paths``: the data root (``$SPS_DATA``, else ``<repo>/../shared/data``), person folders and their layout;
- ``images``: ``load_image`` (any photo a user hands in), ``read_image`` (the same, downscaled when large: the
  pipeline and the demo read photos this one way) and label PNG reading;
- ``labels``: the parsing label sets (``"lip"`` merged to the paper's 10 labels, ``"sps"``, ``"auto"``);
- ``datasets``: ``PersonDataset``, items placed on the model canvas with ``sps.canvas.Canvas``;
- ``pairs``: ``read_pairs`` for ``pairs.csv``;
- ``check``: ``check_person_folder``; ``python -m sps.data check ROOT [--full]`` runs it over a data root (and
  checks raw CCP folders);
- ``ccp``: the CCP street photos, their 59 clothing labels mapped to the 10 sps labels with keypoints.
"""
from ..canvas import IMAGE_PAD, LABEL_PAD
from .check import FolderReport, check_folder, check_person_folder
from .datasets import PersonDataset, Sample, heatmaps_np, keypoints_outside
from .images import load_image, open_rgb, read_label_png
from .labels import LABEL_SETS, detect_label_set, to_sps_labels
from .pairs import read_pairs
from .paths import (
                    ENV_VAR,
                    IMAGE_DIR,
                    IMAGE_EXTS,
                    KEYPOINTS_FILE,
                    PAIRS_FILE,
                    PARSING_DIR,
                    data_root,
                    find_person_folders,
                    person_folder,
)

PARSING_PAD = LABEL_PAD  # background, the padding of parsing maps

__all__ = [
    "ENV_VAR", "IMAGE_DIR", "IMAGE_EXTS", "IMAGE_PAD", "KEYPOINTS_FILE", "LABEL_SETS", "PAIRS_FILE", "PARSING_DIR",
    "PARSING_PAD", "FolderReport", "PersonDataset", "Sample", "check_folder", "check_person_folder", "data_root",
    "detect_label_set", "find_person_folders", "heatmaps_np", "keypoints_outside", "load_image", "open_rgb",
    "person_folder", "read_label_png", "read_pairs", "to_sps_labels",
]
