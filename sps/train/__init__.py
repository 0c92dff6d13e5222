"""Training: `accelerate launch -m sps.train STAGE [--config FILE] [--key value ...]` (or `python -m sps.train`).

Stages, in order: pose, parser, semantic, appearance, e2e. See `sps.train.config` for every option and the
`cpu` / `paper` / `tiny` presets, and `python -m sps.train plot RUN_DIR` for loss curves.
"""
from .config import STAGE_CONFIGS, resolve  # noqa: F401


def train(stage: str, argv: list[str] | None = None) -> dict:
    """Run one stage with CLI-style options, e.g. ``train("pose", ["--preset", "tiny", "--out", "runs/t"])``."""
    from .loop import run
    from .stages import get_stage

    return run(get_stage(stage), resolve(stage, list(argv or [])))
