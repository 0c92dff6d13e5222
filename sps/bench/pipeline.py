"""`python -m sps.bench pipeline [--presets cpu,paper] [--sizes 256x176,1024x768] [--repeats N] [--threads 2]`:
end-to-end latency per image.

Each preset and photo size runs in its own subprocess (so peak memory is its own): one DeepFashion photo (256 x 176,
from the data root, resized to each ``--sizes`` H x W; a synthetic photo if the data is absent) goes through the
whole chain: parser and pose estimator on the photo, G_S, G_A, pre/post-processing (canvas fit, the composite
rebuilt at the photo's resolution when G_A composites, paste-back, the part-warped panel). Warm-up calls first,
then the median over repeats, split by stage. Presets without shipped weights use random weights (same cost); the
pose estimator always runs, but the annotated keypoints stand in for its output (so the chain does not stop at
TooFewKeypointsError). Peak memory is the child's high-water mark (VmHWM).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

STAGES = ("pre", "parse", "pose", "G_S", "G_A", "post")
TARGET_MS = 150.0


def _rss_mb() -> float:
    """This process's peak resident memory in MB: VmHWM (its own pages, not a forking parent's), else ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _resized(img, src_kps, tgt_kps, size: tuple[int, int]):
    """The photo resized to ``size`` (H, W) and both poses moved with it."""
    import numpy as np
    from PIL import Image

    from sps import pose as K

    if tuple(img.shape[:2]) == tuple(size):
        return img, src_kps, tgt_kps
    out = np.asarray(Image.fromarray(img).resize((size[1], size[0]), Image.BICUBIC))
    return (out, K.resize_keypoints(src_kps, img.shape[:2], size), K.resize_keypoints(tgt_kps, img.shape[:2], size))


def _inputs():
    """(source photo, its keypoints, a target pose on its grid, where from)."""
    import numpy as np

    from sps import pose as K

    try:
        from sps.data import data_root, load_image

        folder = data_root() / "deepfashion"
        kps = K.read_keypoints_csv(folder / "keypoints.csv")
        names = [n for n, k in kps.items() if K.num_visible(k) >= 14]
        src, tgt = names[0], names[1]
        return load_image(folder / "images" / src), kps[src], kps[tgt], f"deepfashion/{src} (256x176)"
    except Exception:  # no data: a synthetic 256 x 176 photo and pose
        rng = np.random.default_rng(0)
        img = rng.integers(0, 256, (256, 176, 3), dtype=np.uint8)
        rel = np.array([(0.5, 0.12), (0.5, 0.25), (0.35, 0.26), (0.3, 0.42), (0.28, 0.56), (0.65, 0.26), (0.7, 0.42),
                        (0.72, 0.56), (0.42, 0.56), (0.41, 0.74), (0.4, 0.92), (0.58, 0.56), (0.59, 0.74),
                        (0.6, 0.92), (0.46, 0.1), (0.54, 0.1), (0.42, 0.11), (0.58, 0.11)], np.float32)
        kps = rel * np.array([175, 255], np.float32)
        return img, kps, kps[::1].copy(), "synthetic 256x176"


def child(preset: str, size: tuple[int, int], repeats: int, warmup: int, threads: int, weights: str) -> dict:
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    from sps import pose as K
    from sps.pipeline import SPSPipeline

    rss0 = _rss_mb()
    shipped = False
    config_file = Path(weights) / "appearance_generator" / "config.json"
    if config_file.is_file():
        cfg = json.loads(config_file.read_text())
        from sps.models import AppearanceGeneratorConfig

        if tuple(cfg.get("canvas", ())) == tuple(AppearanceGeneratorConfig.preset(preset).canvas):
            pipe, shipped = SPSPipeline.from_pretrained(weights), True
    if not shipped:
        pipe = SPSPipeline.from_preset(preset)
        pipe.settings.min_person_fraction = 0.0
        pipe.settings.min_joints = 0
    img, src_kps, tgt_kps, what = _inputs()
    img, src_kps, tgt_kps = _resized(img, src_kps, tgt_kps, size)
    what = f"{what.split(' ')[0]} at {size[0]}x{size[1]}"
    # Run the estimator for its cost, but continue with the annotated joints: random weights find none, and the
    # shipped estimator may miss some on a given photo (the chain would stop at NoPersonError).
    real = pipe.estimate_keypoints
    canvas_kps = K.keypoints_to_canvas(src_kps, img.shape[:2], pipe.canvas)
    pipe.estimate_keypoints = lambda person: (real(person), canvas_kps.copy())[1]  # type: ignore[method-assign]
    times = []
    for i in range(warmup + repeats):
        t = time.perf_counter()
        res = pipe(img, tgt_kps)
        wall = time.perf_counter() - t
        if i >= warmup:
            times.append({**res.timings, "wall": wall})
    med = {k: float(np.median([t[k] for t in times])) * 1000 for k in (*STAGES, "total", "wall")}
    return {"preset": preset, "weights": "shipped" if shipped else "random", "canvas": list(pipe.canvas),
            "photo": list(size), "composite": bool(pipe.appearance_generator.config.composite),
            "input": what, "repeats": repeats, "threads": torch.get_num_threads(), "median_ms": med,
            "p90_wall_ms": float(np.percentile([t["wall"] for t in times], 90)) * 1000,
            "rss_after_import_mb": rss0, "peak_rss_mb": _rss_mb()}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m sps.bench pipeline", description=__doc__.split("\n\n")[0])
    ap.add_argument("--presets", default="cpu,paper")
    ap.add_argument("--sizes", default="256x176,1024x768", help="photo sizes H x W, comma-separated")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--weights", default="weights", help="pipeline folder for the presets it fits (default: weights)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--json", default=None, help="also write the raw results to this file")
    args = ap.parse_args(argv)
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    if args.child:
        preset, size = args.child.split(":")
        print(json.dumps(child(preset, tuple(int(v) for v in size.split("x")), args.repeats, args.warmup,
                               args.threads, args.weights)))
        return
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    rows = []
    for preset in args.presets.split(","):
        for size in sizes:
            out = subprocess.run([sys.executable, "-m", "sps.bench", "pipeline", "--child", f"{preset}:{size[0]}x{size[1]}",
                                  "--repeats", str(args.repeats), "--warmup", str(args.warmup), "--threads",
                                  str(args.threads), "--weights", str(Path(args.weights).resolve())],
                                 capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[2])
            if out.returncode != 0:
                print(f"preset {preset} at {size} failed:\n{out.stderr[-2000:]}", file=sys.stderr)
                continue
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    import torch

    print(f"# pipeline latency per image ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{args.threads} torch threads, torch {torch.__version__})\n")
    if rows:
        print(f"input: {rows[0]['input'].split(' at ')[0]}; median of {args.repeats} warm calls after {args.warmup} "
              f"warm-up; target for the shipped preset on a 256x176 photo: <= {TARGET_MS:.0f} ms\n")
    print("| preset | weights | G_A | canvas | photo | pre | parse | pose | G_S | G_A | post | total (median) | p90 | "
          "peak RSS |")
    print("|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        m = r["median_ms"]
        kind = "composite" if r["composite"] else "plain"
        print(f"| {r['preset']} | {r['weights']} | {kind} | {r['canvas'][0]}x{r['canvas'][1]} | "
              f"{r['photo'][0]}x{r['photo'][1]} | "
              + " | ".join(f"{m[s]:.1f}" for s in STAGES)
              + f" | **{m['wall']:.1f} ms** | {r['p90_wall_ms']:.1f} | {r['peak_rss_mb']:.0f} MB "
                f"({r['peak_rss_mb'] - r['rss_after_import_mb']:.0f} above import) |")
    print("\nStages in ms. 'pose' includes the pose estimator on the source photo (target given as keypoints); "
          "random weights cost the same as trained ones.")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
