"""Training stages: pose, parser, semantic, appearance, e2e (one small module each)."""
from __future__ import annotations

import importlib

STAGES = ("pose", "parser", "semantic", "appearance", "e2e")


def get_stage(name: str):
    """The Stage class of a stage name (imported lazily)."""
    if name not in STAGES:
        raise ValueError(f"unknown stage {name!r}; choose from {STAGES}")
    return importlib.import_module(f"{__name__}.{name}").STAGE
