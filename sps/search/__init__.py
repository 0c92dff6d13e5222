"""Pseudo-label search for pre-training the semantic parsing transformation (docs/design.md 1.1).

``python -m sps.search --data FOLDER --out pairs.csv`` writes ``source,candidate,score,margin`` rows;
``read_pseudo_pairs`` reads them back for the semantic-generator trainer.
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
from .index import SearchIndex, bone_directions, find_folders, load_index, person_id

__all__ = ["SearchConfig", "SearchIndex", "SearchResult", "bone_directions", "candidate_lists", "candidate_mask",
           "find_folders", "iter_search", "load_index", "person_id", "pose_distance", "prefilter_agreement",
           "score_pairs", "search"]
