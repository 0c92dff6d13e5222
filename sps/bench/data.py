"""`python -m sps.bench data`: the training data path's throughput, and part-transform cost.

Measures what training really does with its data:

- the loader: samples/s of ``PersonDataset(viton/train, heatmaps=False)`` through a DataLoader (batch 16,
  shuffled, steady state after the first batch, so worker start-up is excluded). Heatmaps stay out of the
  loader: ``SPSModel`` builds them batched (``sps.pose.heatmaps_torch``, on the accelerator when there is one),
  which saves copying 18 x H x W floats per sample through the loader;
- target poses: building the keypoint bank with ``PersonDataset.pose`` (header reads, no image decode) and
  drawing a batch of random target poses from it with their heatmaps, as the unpaired stages do;
- ms per pair of ``sps.parts.part_transforms`` + ``part_masks`` (numpy one-pair API, and the batched torch
  API at B=32 divided by 32).

Medians of repeats. Runs in about a minute.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .. import parts
from .. import pose as K
from ..data import PersonDataset, data_root

CANVASES = ((128, 96), (256, 192))


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


def loader_rate(ds: Dataset, workers: int, batch: int, batches: int, seed: int = 0) -> float:
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


def _median_ms(fn: Callable[[], object], repeats: int, per: int = 1) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000 / per)
    return statistics.median(times)


def keypoint_bank(ds: PersonDataset, n: int) -> torch.Tensor:
    """(n, 18, 2) canvas keypoints of the first n items, unflipped (what the stages draw target poses from)."""
    return torch.from_numpy(np.stack([ds.pose(i, flip=False) for i in range(n)]).astype(np.float32))


def target_costs(folder: Path, canvas: tuple[int, int], n: int, batch: int, repeats: int) -> tuple[float, float]:
    """(ms per pose to build a bank of n, ms per batch to draw ``batch`` target poses and their heatmaps)."""
    ds = PersonDataset(folder, canvas=canvas, heatmaps=False)  # fresh: the image header reads are timed too
    t0 = time.perf_counter()
    bank = keypoint_bank(ds, n)
    per_pose = (time.perf_counter() - t0) * 1000 / n
    gen = torch.Generator().manual_seed(0)

    def draw() -> torch.Tensor:
        k_t = bank[torch.randint(len(bank), (batch,), generator=gen)]  # (B, 18, 2)
        return K.heatmaps_torch(k_t, ds.canvas)  # (B, 18, H, W)

    return per_pose, _median_ms(draw, repeats)


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


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m sps.bench data", description=__doc__.split("\n")[0])
    ap.add_argument("--folder", default=None, help="person folder (default: <data root>/viton/train)")
    ap.add_argument("--batches", type=int, default=20, help="timed batches per loader setting")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    ap.add_argument("--bank", type=int, default=2000, help="images in the timed keypoint bank")
    ap.add_argument("--repeats", type=int, default=20, help="repeats of the target-pose and part-transform timings")
    ap.add_argument("--threads", type=int, default=2)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Print the three tables."""
    args = _parse(argv)
    torch.set_num_threads(args.threads)
    folder = args.folder or data_root() / "viton" / "train"
    print(f"machine: {machine()}\n")

    t_all = time.perf_counter()
    print(f"## Loader: PersonDataset over {folder}, heatmaps off, as training feeds it "
          f"({args.batch_size}/batch, {args.batches} batches, steady state)\n")
    print("| canvas | num_workers | samples/s | ms/sample |")
    print("|---|---:|---:|---:|")
    sets = {canvas: PersonDataset(folder, canvas=canvas, heatmaps=False) for canvas in CANVASES}
    for canvas, ds in sets.items():
        for w in args.workers:
            rate = loader_rate(ds, w, args.batch_size, args.batches)
            print(f"| {canvas[0]}x{canvas[1]} | {w} | {rate:.0f} | {1000 / rate:.2f} |", flush=True)

    n = min(args.bank, len(sets[CANVASES[0]]))
    print(f"\n## Target poses: keypoint bank of {n} images (PersonDataset.pose), then a batch of "
          f"{args.batch_size} random targets + heatmaps (median of {args.repeats})\n")
    print("| canvas | bank ms/pose | draw + heatmaps ms/batch |")
    print("|---|---:|---:|")
    for canvas, ds in sets.items():
        per_pose, per_batch = target_costs(ds.folder, canvas, n, args.batch_size, args.repeats)
        print(f"| {canvas[0]}x{canvas[1]} | {per_pose:.3f} | {per_batch:.2f} |", flush=True)

    base = sets[(256, 192)]
    kps256 = keypoint_bank(base, min(32, len(base))).numpy()
    print(f"\n## Part transforms + part masks (median of {args.repeats}, ms per pair)\n")
    print("| canvas | one pair, numpy API | batched torch, B=32 (per pair) |")
    print("|---|---:|---:|")
    for canvas in ((256, 192), (128, 96)):
        kps = kps256 if canvas == (256, 192) else np.stack([K.keypoints_to_canvas(k, (256, 192), canvas)
                                                            for k in kps256])
        one, batched = parts_costs(kps.astype(np.float32), canvas, args.repeats)
        print(f"| {canvas[0]}x{canvas[1]} | {one:.2f} | {batched:.3f} |", flush=True)
    print(f"\ntotal {time.perf_counter() - t_all:.1f} s")


if __name__ == "__main__":
    main()
