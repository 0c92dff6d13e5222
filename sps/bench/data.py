"""`python -m sps.bench data`: loader throughput and part-transform cost.

Measures samples/s of UnpairedDataset(PersonDataset(viton/train)) through a DataLoader (batch 16, shuffled,
steady state after the first batch, so worker start-up is excluded), and ms per pair of
sps.parts.part_transforms + part_masks (numpy one-pair API, and the batched torch API at B=32 divided by 32).
Medians of repeats. Runs in about a minute. "heatmaps in loader: no" is PersonDataset(heatmaps=False): the
trainer then builds heatmaps batched with sps.pose.heatmaps_torch (on the accelerator when there is one), which
saves copying 2 x 18 x H x W floats per sample through the loader.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import torch
from torch.utils.data import DataLoader

from .. import parts
from ..data import PersonDataset, UnpairedDataset, data_root


def machine() -> str:
    """One line: CPU model, cores, torch threads."""
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (f"{model}; nproc {os.cpu_count()}; torch {torch.__version__} threads {torch.get_num_threads()}; "
            f"python {platform.python_version()}; load average {load}")


def loader_rate(ds: UnpairedDataset, workers: int, batch: int, batches: int, seed: int = 0) -> float:
    """Samples/s over ``batches`` batches after the first one."""
    gen = torch.Generator().manual_seed(seed)
    dl = DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers, generator=gen, drop_last=True,
                    persistent_workers=False)
    it = iter(dl)
    next(it)  # warm-up: worker start, file cache
    t0 = time.perf_counter()
    n = 0
    for _ in range(batches):
        b = next(it)
        n += b["image"].shape[0]
    rate = n / (time.perf_counter() - t0)
    del it
    return rate


def _median_ms(fn, repeats: int, per: int = 1) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000 / per)
    return statistics.median(times)


def parts_costs(kps: np.ndarray, size: tuple[int, int], repeats: int, batch: int = 32) -> tuple[float, float]:
    """(ms per pair numpy one-pair API, ms per pair batched torch API) for transforms + masks at ``size``."""
    src, tgt = kps[0], kps[1]

    def one() -> None:
        parts.part_transforms(src, tgt, size)
        parts.part_masks(tgt, size)

    s = torch.from_numpy(kps[:batch])
    t = torch.from_numpy(np.roll(kps[:batch], 1, axis=0))

    def batched() -> None:
        parts.part_transforms_torch(s, t, size)
        parts.part_masks_torch(t, size)

    return _median_ms(one, repeats), _median_ms(batched, max(3, repeats // 4), per=batch)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m sps.bench data", description=__doc__.split("\n")[0])
    ap.add_argument("--folder", default=None, help="person folder (default: <data root>/viton/train)")
    ap.add_argument("--batches", type=int, default=20, help="timed batches per loader setting")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    ap.add_argument("--repeats", type=int, default=20, help="repeats of the part-transform timings")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    folder = args.folder or data_root() / "viton" / "train"
    print(f"machine: {machine()}\n")

    t_all = time.perf_counter()
    print(f"## Loader: UnpairedDataset over {folder} ({args.batch_size}/batch, {args.batches} batches, steady state)\n")
    print("| canvas | heatmaps in loader | num_workers | samples/s | ms/sample |")
    print("|---|---|---:|---:|---:|")
    for canvas in ((128, 96), (256, 192)):
        for hm in (True, False):
            ds = UnpairedDataset(PersonDataset(folder, canvas=canvas, flip=True, heatmaps=hm), seed=0)
            for w in args.workers:
                rate = loader_rate(ds, w, args.batch_size, args.batches)
                print(f"| {canvas[0]}x{canvas[1]} | {'yes' if hm else 'no'} | {w} | {rate:.0f} | {1000 / rate:.2f} |",
                      flush=True)

    base = PersonDataset(folder, canvas=(256, 192), heatmaps=False)
    print(f"\n## Part transforms + part masks (median of {args.repeats}, ms per pair)\n")
    print("| canvas | one pair, numpy API | batched torch, B=32 (per pair) |")
    print("|---|---:|---:|")
    for canvas in ((256, 192), (128, 96)):
        kps = np.stack([base.pose(i, flip=False, size=(256, 192)) for i in range(32)])
        if canvas != (256, 192):
            from ..pose import keypoints_to_canvas
            kps = np.stack([keypoints_to_canvas(k, (256, 192), canvas) for k in kps])
        one, batched = parts_costs(kps.astype(np.float32), canvas, args.repeats)
        print(f"| {canvas[0]}x{canvas[1]} | {one:.2f} | {batched:.3f} |", flush=True)
    print(f"\ntotal {time.perf_counter() - t_all:.1f} s")


if __name__ == "__main__":
    main()
