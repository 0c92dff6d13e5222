"""Training configs: one dataclass per stage on top of `RunConfig`, with nested sections.

Sections: `optim` (Adam and its schedule), `data` (folders, pairs, loader), `log`, `checkpoint`, `loss`
(`sps.losses.LossWeights`: the weight of each loss term), and for the generator stages `model`
(`sps.models.SPSModelConfig`: soft/hard target parsing, heatmaps) and `weights` (networks to start from).
The network widths follow `preset` (tiny | cpu | paper).

Resolution order (later wins): dataclass defaults < `--preset` < `--config FILE` (YAML/JSON, nested) < command
line (`--optim.lr 1e-4`, see `sps.train.cli`). The resolved config is written beside the run as
`RUN_DIR/config.yaml` and reads back with `--config` or `from_file`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..losses import LossWeights
from ..models.sps_model import SPSModelConfig
from . import cli
from .augment import AugmentConfig, LayoutZoom
from .cli import option

# ---------------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------------

@dataclass
class OptimOptions:
    """Adam and its learning-rate schedule (one LambdaLR per optimiser)."""

    lr: float = option(2e-4, "learning rate of the trained network (generators)")
    beta1: float = option(0.5, "Adam beta1")
    beta2: float = option(0.999, "Adam beta2")
    weight_decay: float = option(0.0, "Adam weight decay")
    schedule: str = option("constant", "constant | cosine | linear (decay to 0 over `steps`)")
    warmup_steps: int = option(0, "linear warm-up steps")
    clip_grad: float = option(100.0, "max grad norm of each optimiser's parameters (0 = off)")


@dataclass
class GanOptimOptions(OptimOptions):
    """Adam for a generator and its discriminators."""

    d_lr: float = option(2e-4, "learning rate of the discriminators")


@dataclass
class E2EOptimOptions(GanOptimOptions):
    """Adam for G_A and G_S together (G_S moves gently) and the discriminators."""

    semantic_lr: float = option(2e-5, "learning rate of G_S (G_A uses lr)")


@dataclass
class DataOptions:
    """Where the images come from and how they are loaded."""

    root: str = option("", "data root (default: sps.data.data_root())")
    max_images: int = option(0, "at most this many images (semantic: pairs) per folder (0 = all); tests, quick runs")
    num_workers: int = option(0, "DataLoader workers")
    flip: float = option(0.5, "probability of a horizontal flip of a training item")
    eval_images: int = option(200, "images (pairs) used for the final metrics (0 = all)")


@dataclass
class FolderData(DataOptions):
    """Person folders under the data root (`sps.train.data.person_folders`)."""

    datasets: tuple[str, ...] = option(("viton/train",), "person folders under the data root")
    balance: bool = option(False, "repeat the smaller folders so each gives an equal share of the steps")


@dataclass
class EvalFolderData(FolderData):
    """Person folders to train on and to score on at the end."""

    eval_folder: tuple[str, ...] = option((), "folders scored at the end (test identities where unsplit)")


@dataclass
class PairData(DataOptions):
    """Searched pseudo pairs (CSV source,candidate,score,margin[,flip,scale,candidate_dataset] from
    `python -m sps.search`: the candidate won mirrored and/or rescaled, from another folder when named)."""

    pairs: tuple[str, ...] = option(("pseudo_labels/viton_train.csv",), "pair CSV files (names inside `dataset`)")
    dataset: tuple[str, ...] = option(("viton/train",), "folder holding the images of each pair file, in order")
    parsing_dirs: dict[str, str] = option({}, "DATASET=DIR: predicted label maps (`python -m sps.predict`) of a folder")
    balance: bool = option(True, "repeat the smaller pair files so each gives an equal share of the steps")
    min_margin: float = option(0.0, "keep only pairs with margin >= this (0 = keep all)")
    max_score: float = option(0.0, "keep only pairs with score <= this (0 = keep all; a poorly matched source "
                                   "scores near 1)")


@dataclass
class LogOptions:
    """log.csv rows and sample grids."""

    every: int = option(10, "a row in log.csv every N steps (means over the window and all processes)")
    sample_every: int = option(250, "samples/step-XXXXXX.png every N steps (0 = only at the end)")


@dataclass
class CheckpointOptions:
    """Periodic `accelerator.save_state` checkpoints."""

    every: int = option(500, "checkpoint every N steps (0 = only at the end)")
    keep: int = option(2, "keep this many checkpoints")


@dataclass
class AverageOptions:
    """Weight averaging: the exported networks are the mean of snapshots taken during the run."""

    every: int = option(0, "add a snapshot of the weights every N steps (0 = off: export the last weights)")
    start: int = option(0, "the first snapshot is taken at or after this step")


@dataclass
class InitWeights:
    """The network a stage starts from."""

    init: str = option("", "start from exported weights (fine-tuning), e.g. weights/pose_estimator")


@dataclass
class AppearanceWeights:
    """Frozen networks the appearance stage uses ("random": a fresh network of the preset, for benchmarks)."""

    semantic: str = option("weights/semantic_generator", "G_S (frozen)")
    pose: str = option("weights/pose_estimator", "pose estimator for the pose consistency loss (frozen)")
    parser: str = option("", "human parser that predicts parsing for images without it (\"\" = skip those)")
    appearance: str = option("", "G_A to start from (\"\" = a fresh one of the preset)")


@dataclass
class E2EWeights(AppearanceWeights):
    """G_S and G_A to fine-tune jointly, and the frozen helpers."""

    semantic: str = option("weights/semantic_generator", "G_S to fine-tune")
    appearance: str = option("weights/appearance_generator", "G_A to fine-tune")


# ---------------------------------------------------------------------------------------------
# The options of every stage
# ---------------------------------------------------------------------------------------------

@dataclass
class RunConfig:
    """Options every stage shares (run folder, preset, canvas, steps, batch, sections)."""

    out: str = option("", "run folder (default runs/<stage>)")
    preset: str = option("cpu", "tiny | cpu | paper: canvas, network widths, batch, steps (see PRESETS)")
    canvas: tuple[int, int] = option((128, 96), "(H, W) model canvas")
    steps: int = option(2000, "optimiser steps (each = grad_accum micro-batches per process)")
    batch_size: int = option(8, "per process, per micro-batch")
    grad_accum: int = option(1, "micro-batches per optimiser step")
    seed: int = option(0, "seed of the data order, initial weights and per-step random draws")
    mixed_precision: str = option("no", "no | fp16 | bf16 (accelerate)")
    threads: int = option(0, "torch.set_num_threads (0 = leave torch's default)")
    resume: bool = option(False, "continue from RUN_DIR/checkpoints/latest")
    max_minutes: float = option(0.0, "stop gracefully (checkpoint + export) after this many minutes (0 = no limit)")
    export_fp16: bool = option(False, "save the exported weights in float16")
    find_unused_parameters: bool = option(False, "DDP option; every stage uses all trainable parameters by design")
    optim: OptimOptions = option(OptimOptions(), "optimiser")
    data: DataOptions = option(DataOptions(), "data")
    log: LogOptions = option(LogOptions(), "logging")
    checkpoint: CheckpointOptions = option(CheckpointOptions(), "checkpoints")
    average: AverageOptions = option(AverageOptions(), "weight averaging of the exported networks")
    loss: LossWeights = option(LossWeights(), "loss weights")


# ---------------------------------------------------------------------------------------------
# Stages
# ---------------------------------------------------------------------------------------------

@dataclass
class SupervisedConfig(RunConfig):
    """One network trained on annotations, from scratch or from `weights.init` (pose, parser)."""

    optim: OptimOptions = option(OptimOptions(lr=1e-3, beta1=0.9), "optimiser")
    data: EvalFolderData = option(EvalFolderData(), "folders to train on and to score on")
    weights: InitWeights = option(InitWeights(), "starting weights")


@dataclass
class PoseConfig(SupervisedConfig):
    """Stage 1: PoseEstimator on every keypoint annotation (and pseudo labels, e.g. CCP's prepared folders); heatmap
    MSE; flips and the street-photo augmentations of `augment` (clutter needs a parsing map)."""

    data: EvalFolderData = option(EvalFolderData(
        datasets=("viton/train", "deepfashion", "market"), eval_folder=("viton/test", "deepfashion", "market")),
        "keypoint folders; PCK at the end on each eval folder")
    augment: AugmentConfig = option(AugmentConfig(zoom=0.0, clutter=0.0, colour=0.0, grayscale=0.0),
                                    "zoom / clutter / colour / grayscale augmentations (all off by default)")


@dataclass
class ParserConfig(SupervisedConfig):
    """Stage 2: HumanParser on parsing maps (VITON's LIP merged to the 10 labels, CCP mapped by sps.data.ccp);
    cross-entropy; flips and the street-photo augmentations of `augment`."""

    data: EvalFolderData = option(EvalFolderData(eval_folder=("viton/test",)),
                                  "folders with parsing; mIoU per label at the end on eval_folder and spt-demo")
    augment: AugmentConfig = option(AugmentConfig(zoom=0.0, clutter=0.0, colour=0.0, grayscale=0.0),
                                    "zoom / clutter / colour / grayscale augmentations (all off by default)")


@dataclass
class GeneratorConfig(RunConfig):
    """A stage that trains G_S and/or G_A through `sps.models.SPSModel`, against discriminators."""

    optim: GanOptimOptions = option(GanOptimOptions(), "optimiser")
    model: SPSModelConfig = option(SPSModelConfig(), "generation path: what G_A gets from G_S (soft | hard), heatmaps")


@dataclass
class SemanticConfig(GeneratorConfig):
    """Stage 3: SemanticGenerator on searched pseudo labels; CE + adversarial.

    Several pair files mix datasets: `--data.pairs a.csv b.csv --data.dataset viton/train deepfashion`, with
    `--data.parsing_dirs deepfashion=runs/parsing/deepfashion_train` for a folder whose maps come from the parser.
    """

    data: PairData = option(PairData(), "pseudo pairs")
    weights: InitWeights = option(InitWeights(), "starting weights of G_S")
    zoom: LayoutZoom = option(LayoutZoom(), "zoom the source in (half-body crops) and the candidate in or out "
                                            "(all off by default)")
    correction: bool = option(False, "G_S corrects the part-warped source parsing (SemanticGeneratorConfig."
                                     "correction); a plain G_S to start from gets prior_gain 0")


@dataclass
class AppearanceConfig(GeneratorConfig):
    """Stage 4: AppearanceGenerator with frozen G_S and PoseEstimator; adv + face + pose + content + style (+ L1)."""

    data: FolderData = option(FolderData(), "sources need parsing (ground truth, or weights.parser to predict it)")
    # Pixel L1 between the cycle reconstruction and the source: not in the paper, a direct, still unpaired signal
    # that makes the short CPU runs converge; the `paper` preset sets it to 0.
    loss: LossWeights = option(LossWeights(cycle_l1=10.0, colour=10.0, flow_tv=10.0, mask_prior=0.05),
                               "loss weights")
    weights: AppearanceWeights = option(AppearanceWeights(), "networks")
    composite: bool = option(False, "G_A blends the flow-warped source with its generated image (a plain G_A "
                                    "to start from gets a fresh flow/mask head)")
    use_parsing: bool = option(True, "G_A sees the parsing maps (false: the paper's 'no parsing' baseline)")
    perceptual: str = option("efficientnet_lite0", "perceptual network of the content and style losses")
    fade_steps: int = option(0, "local enhancer (paper preset): alpha ramps (0, 1] over this many steps (0 = 1)")


@dataclass
class E2EConfig(AppearanceConfig):
    """Stage 5: joint fine-tuning of G_S and G_A: soft parsing, semantic cycle CE, both discriminators."""

    steps: int = option(1000, "optimiser steps (each = grad_accum micro-batches per process)")
    optim: E2EOptimOptions = option(E2EOptimOptions(lr=1e-4), "optimiser")
    loss: LossWeights = option(LossWeights(cycle_l1=10.0, parsing_adv=0.1, colour=10.0, flow_tv=10.0,
                                           mask_prior=0.05), "loss weights")
    weights: E2EWeights = option(E2EWeights(), "networks")

    def __post_init__(self) -> None:
        if self.model.target_parsing != "soft":
            raise ValueError("e2e trains G_S through G_A's losses: --model.target_parsing must be soft")


STAGE_CONFIGS: dict[str, type[RunConfig]] = {
    "pose": PoseConfig,
    "parser": ParserConfig,
    "semantic": SemanticConfig,
    "appearance": AppearanceConfig,
    "e2e": E2EConfig,
}

# Presets: nested overrides applied on top of a stage's defaults. `cpu` is the shipped preset (a 2-core machine);
# `paper` is for GPUs: 256x192, the paper's widths, batch sizes and step counts that make sense on one or more GPUs.
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(canvas=(32, 24), batch_size=2, steps=4, log=dict(every=1, sample_every=2), checkpoint=dict(every=2),
                 data=dict(eval_images=4, max_images=8)),
    "cpu": dict(canvas=(128, 96), batch_size=8),
    "paper": dict(canvas=(256, 192), batch_size=16, data=dict(num_workers=8, eval_images=0),
                  checkpoint=dict(every=2000), log=dict(sample_every=1000, every=50)),
}
# per-stage paper step counts (steps x batch 16 per process; ~10-60 epochs of VITON train on one GPU)
PAPER_STEPS = {"pose": 40000, "parser": 40000, "semantic": 30000, "appearance": 100000, "e2e": 20000}
PAPER_BATCH = {"appearance": 8, "e2e": 8}


def preset_overrides(stage: str, preset: str) -> dict[str, Any]:
    """The nested overrides of `preset` for `stage`."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
    over = {**PRESETS[preset], "preset": preset}
    if preset == "paper":
        over.update(steps=PAPER_STEPS[stage], batch_size=PAPER_BATCH.get(stage, over["batch_size"]))
        if stage in ("appearance", "e2e"):
            over["loss"] = {"cycle_l1": 0.0, "colour": 0.0}  # the paper's losses (and the composite's own)
    return over


def parser_for(stage: str):
    """The argparse parser of `stage`'s options (defaults shown are the stage's, `cpu` preset). Loss weights
    the stage does not use are accepted (one config file can serve several stages) but not listed."""
    from .stages import get_stage

    if stage not in STAGE_CONFIGS:
        raise ValueError(f"unknown stage {stage!r}; choose from {list(STAGE_CONFIGS)}")
    cls, declared = STAGE_CONFIGS[stage], get_stage(stage)
    used = {*declared.generator_terms.values(), *declared.discriminator_terms.values()}
    unused = frozenset(f"loss.{name}" for name in LossWeights().to_dict() if name not in used)
    return cli.build_parser(cls(), prog=f"python -m sps.train {stage}", hidden=unused,
                            description=f"{cls.__name__}: {(cls.__doc__ or '').strip()}")


def load_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON config file (a nested mapping of options; a `stage` key is ignored)."""
    text = Path(path).read_text()
    data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of option names to values")
    data.pop("stage", None)
    return data


def resolve(stage: str, argv: list[str]) -> RunConfig:
    """Build the config of `stage` from defaults, preset, `--config FILE` and command-line options."""
    given, config_file = cli.parse(parser_for(stage), list(argv))
    file_opts = load_file(config_file) if config_file else {}
    preset = str(given.get("preset", file_opts.get("preset", "cpu")))
    cfg = cli.apply(STAGE_CONFIGS[stage](), preset_overrides(stage, preset), f"preset {preset}")
    cfg = cli.apply(cfg, file_opts, f"config file {config_file}")
    cfg = cli.apply(cfg, given, "command line")
    if not cfg.out:
        cfg = cli.apply(cfg, {"out": f"runs/{stage}"}, "default")
    return cfg


def to_dict(cfg: RunConfig) -> dict[str, Any]:
    """The nested options of a config as plain YAML/JSON values."""
    return cli.to_dict(cfg)


def save(cfg: RunConfig, path: str | Path, stage: str) -> None:
    """Write the resolved config (YAML) so the run can be reproduced with `--config path`."""
    Path(path).write_text(yaml.safe_dump({"stage": stage, **to_dict(cfg)}, sort_keys=False))


def from_file(stage: str, path: str | Path) -> RunConfig:
    """A config saved by `save` (or any nested YAML/JSON of options) on top of the stage defaults."""
    return cli.apply(STAGE_CONFIGS[stage](), load_file(path), str(path))
