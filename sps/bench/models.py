"""`python -m sps.bench models [--presets cpu,paper] [--repeats N] [--threads 2]`

Per network and for the inference chain (parser + pose + G_S + G_A): parameters, GFLOPs
(``torch.utils.flop_counter.FlopCounterMode``; convolutions and matmuls only, as FLOPs = 2 x MACs),
CPU latency at batch 1 (median of repeats) and the achieved GFLOP/s against a measured fp32 matmul rate.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from sps.models import (
    AppearanceGenerator,
    AppearanceGeneratorConfig,
    HumanParser,
    HumanParserConfig,
    PoseEstimator,
    PoseEstimatorConfig,
    SemanticGenerator,
    SemanticGeneratorConfig,
)
from sps.pose import heatmaps_torch

# A plausible standing pose on a 96 x 128 canvas (scaled to others).
POSE_96x128 = [[48, 20], [48, 34], [36, 34], [32, 52], [30, 68], [60, 34], [64, 52], [66, 68], [40, 70], [40, 94],
               [40, 118], [56, 70], [56, 94], [56, 118], [45, 17], [51, 17], [42, 19], [54, 19]]


def matmul_gflops(n: int = 1024, repeats: int = 5) -> float:
    """Measured fp32 matmul rate (GFLOP/s) with the current thread count."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        ts.append(time.perf_counter() - t)
    return 2 * n**3 / min(ts) / 1e9


def timeit(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median seconds of ``fn()``."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def count_gflops(fn: Callable[[], object]) -> float:
    with FlopCounterMode(display=False) as fc:
        fn()
    return fc.get_total_flops() / 1e9


def build(preset: str) -> tuple[dict[str, Callable[[], object]], dict[str, int]]:
    """Networks of a preset and closures running each at batch 1, plus the chain."""
    torch.manual_seed(0)
    nets = {
        "HumanParser": HumanParser(HumanParserConfig.preset(preset)),
        "PoseEstimator": PoseEstimator(PoseEstimatorConfig.preset(preset)),
        "SemanticGenerator": SemanticGenerator(SemanticGeneratorConfig.preset(preset)),
        "AppearanceGenerator": AppearanceGenerator(AppearanceGeneratorConfig.preset(preset)),
    }
    for n in nets.values():
        n.eval()
    h, w = nets["AppearanceGenerator"].config.canvas
    kps = torch.tensor(POSE_96x128, dtype=torch.float32)[None] * torch.tensor([w / 96, h / 128])
    tgt_kps = kps.clone()
    tgt_kps[0, 4] = torch.tensor([w * 0.2, h * 0.2])  # raise the right wrist
    img = torch.rand(1, 3, h, w) * 2 - 1
    par = torch.softmax(torch.randn(1, 10, h, w), 1)
    hm, thm = heatmaps_torch(kps, (h, w)), heatmaps_torch(tgt_kps, (h, w))
    p, e, s, a = (nets[k] for k in ("HumanParser", "PoseEstimator", "SemanticGenerator", "AppearanceGenerator"))

    def chain() -> torch.Tensor:
        src_par = torch.softmax(p(img), 1)
        src_kps = kps  # decoded keypoints of a random net are meaningless: keep the fixed pose
        e.decode(e(img))
        tgt_par = torch.softmax(s(src_par, hm, thm, src_kps=src_kps, tgt_kps=tgt_kps), 1)
        return a(img, src_par, hm, tgt_par, thm, src_kps, tgt_kps)

    runs = {
        "HumanParser": lambda: p(img),
        "PoseEstimator": lambda: e(img),
        "SemanticGenerator": lambda: s(par, hm, thm, src_kps=kps, tgt_kps=tgt_kps),
        "AppearanceGenerator": lambda: a(img, par, hm, par, thm, kps, tgt_kps),
        "chain (parser+pose+G_S+G_A)": chain,
    }
    params = {k: sum(q.numel() for q in n.parameters()) for k, n in nets.items()}
    params["chain (parser+pose+G_S+G_A)"] = sum(params.values())
    return runs, params


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m sps.bench models", description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default="cpu,paper")
    ap.add_argument("--repeats", type=int, default=10, help="timed runs per network (paper preset: at most 3)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rate = matmul_gflops()
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, "
          f"torch threads {torch.get_num_threads()}, fp32 matmul {rate:.0f} GFLOP/s (1024^3, best of 5)\n")
    print("| preset | network | canvas | params (M) | GFLOPs | latency b1 (ms) | GFLOP/s | % of matmul |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for preset in args.presets.split(","):
        runs, params = build(preset)
        canvas = AppearanceGeneratorConfig.preset(preset).canvas
        repeats = args.repeats if preset != "paper" else min(args.repeats, 3)
        with torch.inference_mode():
            for name, fn in runs.items():
                gf = count_gflops(fn)
                sec = timeit(fn, repeats)
                print(f"| {preset} | {name} | {canvas[0]}x{canvas[1]} | {params[name] / 1e6:.2f} | {gf:.2f} | "
                      f"{sec * 1e3:.1f} | {gf / sec:.0f} | {100 * gf / sec / rate:.0f}% |", flush=True)


if __name__ == "__main__":
    main()
