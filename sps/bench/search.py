"""`python -m sps.bench search [--sizes 1000,5000,20000] [--queries 64] [--k 64] [--size 64x48] [--exhaustive-max 5000]`

Throughput of the pseudo-label search (``sps.search.search``) against a synthetic index of N persons, for
several N: queries (sources) per second with the prefilter (top ``k`` by descriptor distance, then only those
k are warped and scored) and, for N <= ``--exhaustive-max``, exhaustive (every valid candidate scored).

The index is synthetic but realistic in what the search costs: poses are real VITON train keypoints
(``keypoints.csv`` of the data root, mapped onto the search canvas, sampled and jittered by +-1.5 px;
a jittered standing template when the data is absent), label maps are painted from each pose's own part
masks (``sps.parts.part_masks_torch``): upper clothes on the torso, face with hair above the nose, sleeves or
bare arms, pants, skirt or bare legs, drawn at random per person. Every person is its own identity.

The prefilter time per query is split into "rank" (``candidate_lists``: pose distance, validity mask and
descriptor distance against all N, then top-k; O(N) with a tiny constant) and "score" (the k part warps
of ``score_pairs``; O(k), independent of N once k valid candidates exist). After a warm-up search of a few
other sources, prefilter timings are the best of ``--repeats`` runs, exhaustive ones a single run. The last
line projects the time to search 50k sources against 50k candidates with the prefilter: the scoring part
as measured at the largest N, plus the ranking part extrapolated to 50k with a straight-line fit against N
(growth in the O(N) part is extrapolated, not assumed flat).
"""
from __future__ import annotations

import argparse
import logging
import time

import numpy as np
import torch

from ..parsing import NUM_LABELS
from ..parts import PART_NAMES, part_masks_torch
from ..pose import keypoints_to_canvas, read_keypoints_csv
from ..search import SearchConfig, SearchIndex, candidate_lists, search
from ..search.io import parse_size
from .data import machine

log = logging.getLogger(__name__)

PROJECT_N = 50_000
# A standing person, relative (x, y) in the image (as tests/conftest.synthetic_pose): the fallback template.
TEMPLATE_REL = np.array([
    (0.50, 0.12), (0.50, 0.25), (0.35, 0.26), (0.30, 0.42), (0.28, 0.56), (0.65, 0.26), (0.70, 0.42),
    (0.72, 0.56), (0.42, 0.56), (0.41, 0.74), (0.40, 0.92), (0.58, 0.56), (0.59, 0.74), (0.60, 0.92),
    (0.46, 0.10), (0.54, 0.10), (0.42, 0.11), (0.58, 0.11),
], np.float32)


def _ints(text: str) -> list[int]:
    try:
        out = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not out or min(out) < 2:
        raise argparse.ArgumentTypeError(f"sizes must be >= 2, got {text!r}")
    return out


# ------------------------------------------------------------------------------ synthetic index

def base_poses(size: tuple[int, int]) -> tuple[np.ndarray, str]:
    """(M, 18, 2) real poses on the canvas (VITON train keypoints) and where they came from.

    Falls back to the standing template (M = 1) when the data root is absent.
    """
    try:
        from ..data import data_root

        path = data_root() / "viton" / "train" / "keypoints.csv"
        poses = read_keypoints_csv(path)
    except Exception as e:  # noqa: BLE001 - any missing/broken data: use the template
        log.info("no VITON keypoints (%s); using a jittered template pose", e)
        h, w = size
        return (TEMPLATE_REL * np.array([w - 1, h - 1], np.float32))[None], "template pose, jittered"
    kps = np.stack([keypoints_to_canvas(k, (256, 192), size) for k in poses.values()]).astype(np.float32)
    keep = (kps[:, [1, 2, 5]] >= 0).all((1, 2))  # neck and both shoulders: a torso to draw clothes on
    return kps[keep], f"{int(keep.sum())} VITON train poses ({path}), sampled and jittered"


def synthetic_poses(base: np.ndarray, n: int, size: tuple[int, int], rng: np.random.Generator,
                    jitter: float = 1.5) -> np.ndarray:
    """(n, 18, 2): poses drawn from ``base`` (without replacement while possible), visible joints jittered."""
    h, w = size
    idx = rng.permutation(len(base))[:n] if n <= len(base) else rng.integers(0, len(base), n)
    kps = base[idx].copy()
    vis = (kps >= 0).all(-1, keepdims=True)
    moved = np.clip(kps + rng.uniform(-jitter, jitter, kps.shape).astype(np.float32), 0, [w - 1, h - 1])
    return np.where(vis, moved, -1.0).astype(np.float32)


def synthetic_labels(kps: np.ndarray, size: tuple[int, int], rng: np.random.Generator,
                     chunk: int = 1024) -> np.ndarray:
    """(n, h, w) uint8 sps label maps painted from each pose's part masks, with random clothing per person."""
    n, (h, w) = len(kps), size
    part = {name: i for i, name in enumerate(PART_NAMES)}
    # per-person choices (sps labels: 1 face, 2 hair, 3 upper clothes, 4 pants, 5 skirt, 6/7 left/right arm,
    # 8/9 left/right leg)
    sleeve = rng.random(n) < 0.6
    long_sleeve = sleeve & (rng.random(n) < 0.4)
    lower = rng.choice([4, 5], n, p=[0.6, 0.4])
    long_lower = (lower == 4) & (rng.random(n) < 0.7)
    paint: list[tuple[str, np.ndarray]] = [
        ("torso", np.full(n, 3)),
        ("right_thigh", lower), ("left_thigh", lower),
        ("right_shin", np.where(long_lower, 4, 9)), ("left_shin", np.where(long_lower, 4, 8)),
        ("right_upper_arm", np.where(sleeve, 3, 7)), ("left_upper_arm", np.where(sleeve, 3, 6)),
        ("right_forearm", np.where(long_sleeve, 3, 7)), ("left_forearm", np.where(long_sleeve, 3, 6)),
        ("head", np.full(n, 1)),
    ]
    out = np.zeros((n, h, w), np.uint8)
    rows = torch.arange(h, dtype=torch.float32)[None, :, None]
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        k = torch.from_numpy(kps[a:b])
        m = part_masks_torch(k, size) > 0.5  # (B, 10, h, w)
        lab = torch.zeros(b - a, h, w, dtype=torch.uint8)
        for name, value in paint:
            v = torch.from_numpy(value[a:b].astype(np.uint8))[:, None, None]
            lab = torch.where(m[:, part[name]], v, lab)
        nose_y = k[:, 0, 1]
        above = (rows < nose_y[:, None, None] - 0.5) & (nose_y >= 0)[:, None, None]
        lab = torch.where(m[:, part["head"]] & above, torch.tensor(2, dtype=torch.uint8), lab)
        out[a:b] = lab.numpy()
    assert out.max() < NUM_LABELS
    return out


def synthetic_index(n: int, size: tuple[int, int], base: np.ndarray, seed: int = 0) -> SearchIndex:
    """A SearchIndex of ``n`` distinct persons on ``size`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    kps = synthetic_poses(base, n, size, rng)
    labels = synthetic_labels(kps, size, rng)
    names = [f"bench{i:07d}_0.jpg" for i in range(n)]
    return SearchIndex(names, labels, kps, dataset=f"synthetic-{n}")


# ------------------------------------------------------------------------------------ timing

def time_search(index: SearchIndex, sources: list[int], warm: list[int], cfg: SearchConfig
                ) -> tuple[float, float]:
    """(seconds for ``search(index, sources, cfg)`` after a warm-up on ``warm``, mean candidates scored)."""
    if warm:
        search(index, warm, cfg)
    t = time.perf_counter()
    res = search(index, sources, cfg)
    sec = time.perf_counter() - t
    return sec, float(np.mean([r.num_candidates for r in res]))


def time_rank(index: SearchIndex, sources: list[int], cfg: SearchConfig) -> float:
    """Seconds of ``candidate_lists`` (the O(N) ranking of the prefilter) for ``sources``, chunked as the search."""
    with torch.inference_mode():
        t = time.perf_counter()
        for a in range(0, len(sources), cfg.source_chunk):
            candidate_lists(index, torch.tensor(sources[a:a + cfg.source_chunk], dtype=torch.long), cfg)
        return time.perf_counter() - t


def project(ns: list[int], ms: list[float], rank_ms: list[float], target: int = PROJECT_N) -> tuple[float, str]:
    """Prefilter ms/query at N = ``target``: the scoring part (O(k)) as measured at the largest N, plus the
    ranking part (O(N)) extrapolated with a straight-line fit against N (slope >= 0; proportional with one N)."""
    score = max(0.0, ms[-1] - rank_ms[-1])
    if len(ns) >= 2:
        slope, _ = np.polyfit(np.asarray(ns, float), np.asarray(rank_ms, float), 1)
        slope = max(0.0, float(slope))
        icpt = float(np.mean(rank_ms) - slope * np.mean(ns))
        rank = max(icpt + slope * target, max(rank_ms))
        how = f"score {score:.2f} ms + rank fit {icpt:.3f} ms + {slope * 1e3:.3g} ms per 1000 candidates"
    else:
        rank = rank_ms[0] * target / ns[0]
        how = f"score {score:.2f} ms + rank {rank_ms[0]:.3f} ms scaled by N"
    return score + rank, how


def _fmt_duration(sec: float) -> str:
    if sec < 120:
        return f"{sec:.0f} s"
    if sec < 2 * 3600:
        return f"{sec / 60:.1f} min"
    return f"{sec / 3600:.1f} h"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m sps.bench search", description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=_ints, default=[1000, 5000, 20000], help="index sizes N, comma-separated")
    ap.add_argument("--queries", type=int, default=64, help="timed sources per N")
    ap.add_argument("--k", type=int, default=64, help="candidates scored per source after the prefilter")
    ap.add_argument("--size", type=parse_size, default=(64, 48), help="search canvas HxW (default 64x48)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--exhaustive-max", type=int, default=5000, help="time exhaustive search only up to this N")
    ap.add_argument("--repeats", type=int, default=3, help="timed prefilter runs per N (best kept); exhaustive: 1")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.queries < 1 or args.k < 1 or args.repeats < 1:
        ap.error("--queries, --k and --repeats must be >= 1")
    torch.set_num_threads(args.threads)
    sizes = sorted(set(args.sizes))
    base, origin = base_poses(args.size)
    print(f"machine: {machine()}\n")
    print(f"index: synthetic, canvas {args.size[0]}x{args.size[1]}, poses: {origin}; label maps painted from "
          f"part masks. {args.queries} timed queries per N (+ a warm-up), SearchConfig defaults "
          f"(pose margin 0.1, nearest sampler, union normalisation), k = {args.k}\n")
    print("| N | build index (s) | prefilter candidates/query | prefilter q/s | prefilter ms/query | "
          "of which rank (O(N)) ms | of which score (O(k)) ms | exhaustive candidates/query | exhaustive q/s | "
          "exhaustive ms/query |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    ns, ms, rank_ms = [], [], []
    from tqdm.auto import tqdm

    for n in tqdm(sizes, desc="index sizes", unit="N", leave=False):
        t = time.perf_counter()
        index = synthetic_index(n, args.size, base, args.seed)
        build = time.perf_counter() - t
        rng = np.random.default_rng(args.seed + 1)
        q = min(args.queries, n)
        picked = rng.permutation(n)
        sources = sorted(int(i) for i in picked[:q])
        warm = [int(i) for i in picked[q:q + min(8, q)]] or sources[:1]
        pf_cfg = SearchConfig(k=args.k)
        runs = [time_search(index, sources, warm if r == 0 else [], pf_cfg) for r in range(args.repeats)]
        sec, pf_cands = min(runs)
        rank = min(time_rank(index, sources, pf_cfg) for _ in range(args.repeats))
        pf_ms, r_ms = 1e3 * sec / q, 1e3 * rank / q
        ns.append(n)
        ms.append(pf_ms)
        rank_ms.append(r_ms)
        if n <= args.exhaustive_max:
            ex_sec, cands = time_search(index, sources, [], SearchConfig(k=None))  # warm already
            ex = f"{cands:.0f} | {q / ex_sec:.1f} | {1e3 * ex_sec / q:.2f}"
        else:
            ex = "- | - | -"
        print(f"| {n} | {build:.1f} | {pf_cands:.0f} | {q / sec:.1f} | {pf_ms:.2f} | {r_ms:.2f} | "
              f"{max(0.0, pf_ms - r_ms):.2f} | {ex} |", flush=True)
        del index

    per_q, how = project(ns, ms, rank_ms)
    if len(ns) >= 2:
        growth = ms[-1] / ms[0]
        print(f"\nprefilter ms/query grew {growth:.2f}x while N grew {ns[-1] / ns[0]:.0f}x "
              f"({ns[0]} -> {ns[-1]}): only the ranking is O(N), scoring is O(k).")
    print(f"\nprojected: {PROJECT_N} sources against {PROJECT_N} candidates with the prefilter (k = {args.k}) "
          f"~ {per_q:.2f} ms/query ({how}) -> {_fmt_duration(PROJECT_N * per_q / 1e3)} on this machine "
          f"at {args.threads} torch threads ({1e3 / per_q:.0f} q/s).")


if __name__ == "__main__":
    main()
