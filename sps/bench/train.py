"""`python -m sps.bench train [--stages pose,parser,semantic,appearance,e2e] [--steps 6] [--warmup 2] [--preset cpu]`

Training throughput per stage on this CPU: samples/s and seconds per optimiser step in steady state, and the
peak resident memory of the whole training process.

Each stage runs as its own ``python -m sps.train STAGE --preset P --steps N --log.every 1 ...`` subprocess
(forced onto the CPU with ``ACCELERATE_USE_CPU``), so a step costs exactly what it costs in a real run: data
loading, heatmaps and flips, forward, backward, clipping and the optimiser steps of every network of the
stage. Speeds come from the run's own ``log.csv`` (``samples_per_s`` of every step after ``--warmup``;
s/step is their mean step time, samples/s = batch / s/step). Peak RSS is the child's ``ru_maxrss`` from
``os.wait4`` (its own peak, including set-up, the final sample grid, metrics and export, which need less
than a training step); "run wall" is the whole subprocess including start-up, data indexing and export.
Periodic samples and checkpoints are off, the final metrics use one image (``--data.eval_images 1``; 0
would mean all) and pose/parser skip their test folder.

Stages that start from earlier stages' networks (appearance: G_S and the pose estimator; e2e: G_S, G_A
and the pose estimator) use the default ``weights/...`` folders when they exist with the preset's canvas,
and otherwise freshly initialised networks of the preset (``sps.train.nets.load_net``'s ``"random"``):
a step costs the same either way. The semantic stage reads the default pseudo-pair CSV when present, else a
small one written over VITON train images with parsing maps.
"""
from __future__ import annotations

import argparse
import csv
import itertools
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..train import config as C
from .data import machine

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
STAGES = tuple(C.STAGE_CONFIGS)
# name -> network class of the stages that start from other stages' exports (option `--weights.<name minus
# _weights>`)
WEIGHT_OPTIONS: dict[str, dict[str, str]] = {
    "appearance": {"semantic_weights": "SemanticGenerator", "pose_weights": "PoseEstimator"},
    "e2e": {"semantic_weights": "SemanticGenerator", "appearance_weights": "AppearanceGenerator",
            "pose_weights": "PoseEstimator"},
}


@dataclass
class StageResult:
    """Figures of one stage's benchmark run."""

    stage: str
    batch: int
    canvas: tuple[int, int]
    samples_per_s: float
    s_per_step: float
    peak_rss_mib: float
    wall_s: float
    timed_steps: int
    weights: str


def _stages(text: str) -> list[str]:
    out = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in out if s not in STAGES]
    if bad or not out:
        raise argparse.ArgumentTypeError(f"unknown stage(s) {bad or text!r}; choose from {','.join(STAGES)}")
    return out


def _field(option: str) -> str:
    """"semantic_weights" -> "semantic": the field of the config's `weights` section."""
    return option.removesuffix("_weights")


def pick_weights(stage: str, canvas: tuple[int, int], mode: str) -> dict[str, str]:
    """``{option: folder or "random"}`` for the networks ``stage`` starts from (see the module docstring)."""
    out: dict[str, str] = {}
    defaults = C.STAGE_CONFIGS[stage]()
    for opt in WEIGHT_OPTIONS.get(stage, {}):
        folder = REPO / getattr(defaults.weights, _field(opt))
        use = "random"
        if mode == "auto" and (folder / "config.json").is_file():
            try:
                saved = tuple(json.loads((folder / "config.json").read_text()).get("canvas", ()))
            except (OSError, ValueError):
                saved = ()
            if saved == tuple(canvas):
                use = str(folder)
        out[opt] = use
    return out


def pairs_csv(tmp: Path, data: Path, n: int) -> Path:
    """The default pseudo-pair CSV when present, else ``tmp/pairs.csv`` with ``n`` pairs of VITON train images
    that have parsing maps (each image paired with the next one)."""
    default = REPO / C.SemanticConfig().data.pairs[0]
    if default.is_file():
        return default
    folder = data / "viton" / "train"
    names: list[str] = []
    with open(folder / "keypoints.csv") as fh:
        for line in fh:
            name = line.split(":")[0].strip()
            if name != "name" and (folder / "parsing" / (Path(name).stem + ".png")).is_file():
                names.append(name)
            if len(names) >= max(2, n + 1):
                break
    path = tmp / "pairs.csv"
    rows = ["source,candidate,score,margin"] + [f"{a},{b},0.5,0.1" for a, b in itertools.pairwise(names)]
    path.write_text("\n".join(rows) + "\n")
    return path


def run_stage(stage: str, args: argparse.Namespace, tmp: Path, data: Path) -> StageResult:
    """Train ``stage`` for ``args.steps`` steps in a subprocess; read its log.csv and its peak RSS."""
    base = ["--preset", args.preset]
    if args.batch_size:
        base += ["--batch_size", str(args.batch_size)]
    cfg = C.resolve(stage, base)
    batch = cfg.batch_size * cfg.grad_accum
    out = tmp / stage
    cmd = [sys.executable, "-m", "sps.train", stage, *base, "--steps", str(args.steps), "--out", str(out),
           "--log.every", "1", "--log.sample_every", "0", "--checkpoint.every", "0", "--checkpoint.keep", "1",
           "--data.eval_images", "1", "--data.max_images", str(args.max_images), "--threads", str(args.threads),
           "--data.num_workers", str(args.workers), "--data.root", str(data)]
    if stage in ("pose", "parser"):
        cmd.append("--data.eval_folder")  # none: skip the test-folder metrics (parser still scores spt-demo)
    weights = pick_weights(stage, cfg.canvas, args.weights)
    for opt, path in weights.items():
        cmd += [f"--weights.{_field(opt)}", path]
    if stage == "semantic":
        cmd += ["--data.pairs", str(pairs_csv(tmp, data, args.max_images))]
    pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "ACCELERATE_USE_CPU": "true",
           "HF_HUB_OFFLINE": "1", "PYTHONPATH": pythonpath}
    log.info("%s: %s", stage, " ".join(cmd[1:]))
    log_path = tmp / f"{stage}.out"
    t = time.perf_counter()
    with open(log_path, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT)
        try:
            _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS (KiB on Linux)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        tail = log_path.read_text()[-3000:]
        raise RuntimeError(f"{stage}: python -m sps.train exited with {proc.returncode}:\n{tail}")
    with open(out / "log.csv") as fh:
        rows = [r for r in csv.DictReader(fh) if int(r["step"]) > args.warmup]
    rates = [float(r["samples_per_s"]) for r in rows if float(r["samples_per_s"]) > 0]
    if not rates:
        raise RuntimeError(f"{stage}: no timed step after {args.warmup} warm-up steps in {out / 'log.csv'}")
    s_step = statistics.fmean(batch / r for r in rates)
    maxrss = usage.ru_maxrss / 1024 if sys.platform != "darwin" else usage.ru_maxrss / 2**20
    used = ", ".join(f"{k.replace('_weights', '')}={'random' if v == 'random' else Path(v).name}"
                     for k, v in weights.items()) or "-"
    return StageResult(stage, batch, tuple(cfg.canvas), batch / s_step, s_step, maxrss, wall, len(rates), used)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m sps.bench train", description=__doc__.split("\n")[0])
    ap.add_argument("--stages", type=_stages, default=list(STAGES), help="comma-separated stages")
    ap.add_argument("--steps", type=int, default=6, help="optimiser steps per stage")
    ap.add_argument("--warmup", type=int, default=2, help="first steps left out of the speed")
    ap.add_argument("--preset", default="cpu", choices=sorted(C.PRESETS))
    ap.add_argument("--batch-size", type=int, default=0, help="override the preset's batch size (0 = keep)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads of each training process")
    ap.add_argument("--workers", type=int, default=0, help="DataLoader workers (the cpu preset's default is 0)")
    ap.add_argument("--max-images", type=int, default=64, help="images (semantic: pairs) per data folder")
    ap.add_argument("--weights", default="auto", choices=("auto", "random"),
                    help="starting networks of appearance/e2e: weights/... when they fit the canvas, else random")
    ap.add_argument("--out", default="", help="keep the runs here (default: a temporary folder, removed)")
    args = ap.parse_args(argv)
    if args.steps <= args.warmup or args.warmup < 0:
        ap.error("--steps must exceed --warmup (>= 0)")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    from ..data import data_root

    data = data_root()
    print(f"machine: {machine()}\n")
    print(f"preset {args.preset}, {args.steps} steps per stage of which the first {args.warmup} are warm-up, "
          f"{args.threads} torch threads, {args.workers} loader workers, at most {args.max_images} images per "
          f"folder; CPU only\n")
    print("| stage | batch | canvas | samples/s | s/step | peak RSS (MiB) | run wall (s) | timed steps | "
          "starting weights |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---|")
    from tqdm.auto import tqdm

    with tempfile.TemporaryDirectory(prefix="sps-bench-train-") as tmpdir:
        tmp = Path(args.out) if args.out else Path(tmpdir)
        tmp.mkdir(parents=True, exist_ok=True)
        for stage in tqdm(args.stages, desc="stages", unit="stage", leave=False):
            r = run_stage(stage, args, tmp, data)
            print(f"| {r.stage} | {r.batch} | {r.canvas[0]}x{r.canvas[1]} | {r.samples_per_s:.2f} | "
                  f"{r.s_per_step:.4g} | {r.peak_rss_mib:.0f} | {r.wall_s:.1f} | {r.timed_steps} | {r.weights} |",
                  flush=True)


if __name__ == "__main__":
    main()
