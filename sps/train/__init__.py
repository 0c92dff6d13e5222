"""Training: `accelerate launch -m sps.train STAGE [--config FILE] [--section.option value ...]` (or `python -m
sps.train`).

Stages, in order: pose, parser, semantic, appearance, e2e. See `sps.train.config` for every option and the
`tiny` / `cpu` / `paper` presets, and `python -m sps.train plot RUN_DIR` for loss curves.

Modules: `config` (the stage configs) and `cli` (their command line), `data` (training data), `nets`
(networks to start from), `stage` (the stage interface: loss declarations), `stages/` (one per stage),
`loop` (the Accelerate loop), `checkpoint`, `grids` (sample images), `export` (model cards), `plot`.
"""
from .config import STAGE_CONFIGS, resolve  # noqa: F401


def train(stage: str, argv: list[str] | None = None) -> dict:
    """Run one stage with CLI-style options, e.g. ``train("pose", ["--preset", "tiny", "--out", "runs/t"])``."""
    from .loop import run
    from .stages import get_stage

    return run(get_stage(stage), resolve(stage, list(argv or [])))
