"""Training configs: one dataclass per stage on top of a common `RunConfig`.

Resolution order (later wins): dataclass defaults < `--preset` < `--config FILE` (YAML/JSON) < CLI `--key value`.
The resolved config is written beside the run as `RUN_DIR/config.yaml`.
"""
from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass
class RunConfig:
    """Options every stage shares (run folder, optimisation, logging, checkpoints, data size)."""

    out: str = ""  # run folder; default runs/<stage>
    preset: str = "cpu"  # cpu | paper | tiny: canvas, model widths, batch, steps (see PRESETS)
    model_preset: str = "cpu"  # preset name passed to the network configs (tiny | cpu | paper)
    canvas: tuple[int, int] = (128, 96)  # (H, W) model canvas
    steps: int = 2000  # optimiser steps (each = grad_accum micro-batches per process)
    batch_size: int = 8  # per process, per micro-batch
    grad_accum: int = 1
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    weight_decay: float = 0.0
    lr_schedule: str = "constant"  # constant | cosine | linear (decay to 0 over `steps`)
    warmup_steps: int = 0
    clip_grad: float = 100.0  # max grad norm (0 = off)
    mixed_precision: str = "no"  # no | fp16 | bf16 (accelerate)
    seed: int = 0
    data_root: str = ""  # default sps.data.data_root()
    max_images: int = 0  # use at most this many images per dataset folder (0 = all); for tests / quick runs
    num_workers: int = 0  # DataLoader workers
    log_every: int = 10  # rows in log.csv every N steps
    sample_every: int = 250  # samples/step-XXXX.png every N steps (0 = only at the end)
    ckpt_every: int = 500  # checkpoint every N steps (0 = only at the end)
    keep_ckpts: int = 2  # keep this many checkpoints
    max_minutes: float = 0.0  # stop gracefully (checkpoint + export) after this many minutes (0 = no limit)
    resume: bool = False  # continue from RUN_DIR/checkpoints/latest
    export_fp16: bool = False  # save the exported weights in float16
    eval_images: int = 200  # images used for the final metrics (0 = all)
    find_unused_parameters: bool = False  # DDP option; every stage uses all trainable parameters by design
    threads: int = 0  # torch.set_num_threads (0 = leave torch's default)


@dataclass
class PoseConfig(RunConfig):
    """Stage 1: PoseEstimator on every keypoint annotation; heatmap MSE; flip augmentation."""

    datasets: str = "viton/train,deepfashion,market"  # comma-separated folders under the data root
    eval_folder: str = "viton/test,deepfashion,market"  # PCK at the end on each (test identities where unsplit)
    flip: float = 0.5  # probability of a horizontal flip
    heatmap_weight: float = 1000.0  # heatmaps peak at 1 and are mostly 0: scale the MSE so Adam sees usable grads
    balance: bool = False  # repeat the smaller folders so each gives an equal share of the steps
    init_weights: str = ""  # start from exported weights (fine-tuning), e.g. weights/pose_estimator
    lr: float = 1e-3
    beta1: float = 0.9


@dataclass
class ParserConfig(RunConfig):
    """Stage 2: HumanParser on VITON's LIP parsing merged to the 10 labels; cross-entropy; flip augmentation."""

    datasets: str = "viton/train"
    eval_folder: str = "viton/test"  # mIoU per label here and on spt-demo (the paper's own labels)
    flip: float = 0.5
    lr: float = 1e-3
    beta1: float = 0.9


@dataclass
class SemanticConfig(RunConfig):
    """Stage 3: SemanticGenerator on searched pseudo labels (CSV source,candidate,score,margin); CE + adversarial.

    Several pair files mix datasets: `--pairs a.csv,b.csv --dataset viton/train,deepfashion`, with
    `--parsing_dirs deepfashion=runs/parsing/deepfashion_train` for a folder whose maps come from the parser.
    """

    pairs: str = "pseudo_labels/viton_train.csv"  # CSV(s) from `python -m sps.search` (names inside `dataset`)
    dataset: str = "viton/train"  # folder(s) holding the sources and candidates, one per pair file
    parsing_dirs: str = ""  # DATASET=DIR,...: predicted maps (sps labels, `python -m sps.predict`) for a dataset
    balance: bool = True  # with several pair files, repeat the smaller ones so each gives an equal share of the steps
    init_weights: str = ""  # start G_S from exported weights (fine-tuning), e.g. weights/semantic_generator
    max_margin: float = 0.0  # keep only pairs with margin >= this (0 = keep all)
    ce_weight: float = 1.0
    adv_weight: float = 1.0  # ParsingDiscriminator, LSGAN
    d_lr: float = 2e-4


@dataclass
class AppearanceConfig(RunConfig):
    """Stage 4: AppearanceGenerator with frozen G_S and PoseEstimator; adv + face + pose + content (cycle) + style."""

    datasets: str = "viton/train"  # sources need parsing (ground truth, or `parser_weights` to predict it)
    semantic_weights: str = "weights/semantic_generator"
    pose_weights: str = "weights/pose_estimator"
    parser_weights: str = ""  # predicts parsing for images without it (e.g. deepfashion); "" = skip those images
    perceptual: str = "efficientnet_lite0"
    adv_weight: float = 1.0
    face_weight: float = 1.0
    pose_weight: float = 700.0
    content_weight: float = 0.03
    style_weight: float = 1.0
    # Pixel L1 between the cycle reconstruction and the source. Not in the paper: a direct, still unpaired signal
    # that makes the short CPU runs converge; the `paper` preset sets it to 0.
    cycle_l1_weight: float = 10.0
    d_lr: float = 2e-4
    hard_target_parsing: bool = False  # feed G_A one-hot argmax of G_S instead of its softmax
    fade_steps: int = 0  # local enhancer (paper preset): alpha ramps (0, 1] over this many steps (0 = always 1)


@dataclass
class E2EConfig(AppearanceConfig):
    """Stage 5: joint fine-tuning of G_S and G_A: soft parsing, semantic cycle CE, both discriminators."""

    appearance_weights: str = "weights/appearance_generator"
    semantic_lr: float = 2e-5  # G_S moves gently
    lr: float = 1e-4
    cycle_weight: float = 1.0  # CE(G_S(S_t -> p_s), S_s)
    parsing_adv_weight: float = 0.1  # ParsingDiscriminator on G_S's soft maps
    steps: int = 1000


STAGE_CONFIGS: dict[str, type[RunConfig]] = {
    "pose": PoseConfig,
    "parser": ParserConfig,
    "semantic": SemanticConfig,
    "appearance": AppearanceConfig,
    "e2e": E2EConfig,
}

# Presets: overrides applied on top of a stage's defaults. `cpu` is the shipped preset (this 2-core machine);
# `paper` is for GPUs: 256x192, the paper's widths, batch sizes and step counts that make sense on one or more GPUs.
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(model_preset="tiny", canvas=(32, 24), batch_size=2, steps=4, log_every=1, sample_every=2,
                 ckpt_every=2, eval_images=4, max_images=8),
    "cpu": dict(model_preset="cpu", canvas=(128, 96), batch_size=8),
    "paper": dict(model_preset="paper", canvas=(256, 192), batch_size=16, num_workers=8, ckpt_every=2000,
                  sample_every=1000, log_every=50, eval_images=0),
}
# per-stage paper step counts (steps x batch 16 per process; ~10-60 epochs of VITON train on one GPU)
PAPER_STEPS = {"pose": 40000, "parser": 40000, "semantic": 30000, "appearance": 100000, "e2e": 20000}
PAPER_BATCH = {"appearance": 8, "e2e": 8}


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _convert(value: Any, tp: Any, key: str) -> Any:
    """Convert a CLI string (or a YAML/JSON value) to the dataclass field type."""
    origin = typing.get_origin(tp)
    if tp is bool:
        if isinstance(value, bool):
            return value
        s = str(value).strip().lower()
        if s in ("1", "true", "yes", "on"):
            return True
        if s in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"--{key}: expected a boolean, got {value!r}")
    if origin is tuple:
        args = typing.get_args(tp)
        if isinstance(value, str):
            parts = [p for p in value.replace("x", ",").replace(" ", ",").split(",") if p]
        else:
            parts = list(value)
        if len(parts) != len(args):
            raise ValueError(f"--{key}: expected {len(args)} values, got {value!r}")
        return tuple(a(p) for a, p in zip(args, parts))
    try:
        return tp(value)
    except (TypeError, ValueError) as e:
        raise ValueError(f"--{key}: expected {getattr(tp, '__name__', tp)}, got {value!r}") from e


def parse_cli(argv: list[str]) -> dict[str, str | bool]:
    """`--key value`, `--key=value` and bare `--flag` (= true) into a dict (dashes in keys become underscores)."""
    out: dict[str, str | bool] = {}
    i = 0
    while i < len(argv):
        tok = argv[i]
        if not tok.startswith("--"):
            raise ValueError(f"unexpected argument {tok!r} (options are --key value)")
        key = tok[2:]
        if "=" in key:
            key, val = key.split("=", 1)
            i += 1
        elif i + 1 < len(argv) and not argv[i + 1].startswith("--"):
            val = argv[i + 1]
            i += 2
        else:
            val, i = True, i + 1
        out[key.replace("-", "_")] = val
    return out


def load_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON config file (a flat mapping of field names)."""
    text = Path(path).read_text()
    data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of option names to values")
    return data


def apply(cfg: RunConfig, updates: dict[str, Any], where: str) -> RunConfig:
    """Return a copy of `cfg` with `updates` converted to the field types; unknown keys are errors."""
    types = _field_types(type(cfg))
    conv = {}
    for k, v in updates.items():
        if k not in types:
            known = ", ".join(sorted(types))
            raise ValueError(f"{where}: unknown option {k!r} for {type(cfg).__name__} (known: {known})")
        conv[k] = _convert(v, types[k], k)
    return dataclasses.replace(cfg, **conv)


def preset_overrides(stage: str, preset: str) -> dict[str, Any]:
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
    over = dict(PRESETS[preset])
    if preset == "paper":
        over["steps"] = PAPER_STEPS[stage]
        over["batch_size"] = PAPER_BATCH.get(stage, over["batch_size"])
        if stage in ("appearance", "e2e"):
            over["cycle_l1_weight"] = 0.0  # the paper's losses only
    return over


def resolve(stage: str, argv: list[str]) -> RunConfig:
    """Build the config of `stage` from defaults, preset, `--config FILE` and CLI overrides."""
    if stage not in STAGE_CONFIGS:
        raise ValueError(f"unknown stage {stage!r}; choose from {list(STAGE_CONFIGS)}")
    cli = parse_cli(argv)
    file_opts = load_file(str(cli.pop("config"))) if "config" in cli else {}
    file_opts.pop("stage", None)
    preset = str(cli.get("preset", file_opts.get("preset", "cpu")))
    cfg = STAGE_CONFIGS[stage]()
    cfg = apply(cfg, {**preset_overrides(stage, preset), "preset": preset}, f"preset {preset}")
    cfg = apply(cfg, file_opts, "config file")
    cfg = apply(cfg, cli, "command line")
    if not cfg.out:
        cfg = dataclasses.replace(cfg, out=f"runs/{stage}")
    return cfg


def to_dict(cfg: RunConfig) -> dict[str, Any]:
    d = dataclasses.asdict(cfg)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def save(cfg: RunConfig, path: str | Path, stage: str) -> None:
    """Write the resolved config (YAML) so the run can be reproduced with `--config path`."""
    d = {"stage": stage, **to_dict(cfg)}
    Path(path).write_text(yaml.safe_dump(d, sort_keys=False))


def from_file(stage: str, path: str | Path) -> RunConfig:
    d = load_file(path)
    d.pop("stage", None)
    return apply(STAGE_CONFIGS[stage](), d, str(path))
