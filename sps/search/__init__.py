"""Pseudo-label search for pre-training the semantic parsing transformation (docs/design.md 1.1).

``python -m sps.search --data FOLDER [FOLDER ...] --out pairs.csv`` writes ``source,candidate,score,margin`` rows
(+ ``flip,scale,candidate_dataset``: how the candidate won, ``sps.search.variants``); ``read_pseudo_pairs`` reads
them back for the semantic-generator trainer. ``python -m sps.search report`` summarises pair files.
"""
from .core import (
                   SearchConfig,
                   SearchResult,
                   candidate_lists,
                   candidate_mask,
                   iter_search,
                   pose_distance,
                   prefilter_agreement,
                   score_pairs,
                   search,
)
from .index import PartMaps, SearchIndex, bone_directions, concat_indexes, find_folders, load_index, person_id
from .io import PseudoPair, read_pseudo_pairs
from .plot import plot_search_result
from .variants import Variant, apply_variant

__all__ = ["PartMaps", "PseudoPair", "SearchConfig", "SearchIndex", "SearchResult", "Variant", "apply_variant",
           "bone_directions", "candidate_lists", "candidate_mask", "concat_indexes", "find_folders", "iter_search",
           "load_index", "person_id", "plot_search_result", "pose_distance", "prefilter_agreement",
           "read_pseudo_pairs", "score_pairs", "search"]
