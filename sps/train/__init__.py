"""Training: `accelerate launch -m sps.train STAGE [--config FILE] [--section.option value ...]` (or `python -m
sps.train`).

Stages, in order: pose, parser, semantic, appearance, e2e. See `sps.train.config` for every option and the
`tiny` / `cpu` / `paper` presets, and `python -m sps.train plot RUN_DIR` for loss curves.

Modules: `config` (the stage configs) and `cli` (their command line), `data` (training data), `nets`
(networks to start from), `stage` (the stage interface: loss declarations), `stages/` (one per stage),
`loop` (the Accelerate loop), `checkpoint`, `grids` (sample images), `export` (model cards), `plot` (`read_log`).

Public names: `train` (run a stage), `resolve` (its config), `STAGES` / `STAGE_CONFIGS` / `get_stage` (the stages
and their configs), and the semantic stage's data as the trainer reads it: `read_pairs` (a search CSV with the
`--data.min_margin` / `--data.max_score` filters) and `PseudoPairs` (the training triples, candidate shown as it
won); `read_log` reads a run's `log.csv`.
"""
from .config import STAGE_CONFIGS, resolve
from .data import PseudoPairs, read_pairs
from .plot import read_log
from .stages import STAGES, get_stage

__all__ = ["STAGES", "STAGE_CONFIGS", "PseudoPairs", "get_stage", "read_log", "read_pairs", "resolve", "train"]


def train(stage: str, argv: list[str] | None = None) -> dict:
    """Run one stage with CLI-style options, e.g. ``train("pose", ["--preset", "tiny", "--out", "runs/t"])``."""
    from .loop import run

    return run(get_stage(stage), resolve(stage, list(argv or [])))
