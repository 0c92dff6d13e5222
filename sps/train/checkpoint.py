"""Atomic checkpoints of a run (`accelerator.save_state`), the `latest` pointer, and per-rank weight checksums.

`checkpoints/ckpt-XXXXXX.tmp` is written by every process, renamed with `os.replace`, then the `latest` pointer
file is replaced atomically: a run killed at any moment leaves the previous complete checkpoint usable.
"""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

CKPT_DIR = "checkpoints"
LATEST = "latest"
STATE_FILE = "trainer_state.json"


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and `os.replace` (never half-written)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The checkpoint named by `checkpoints/latest` if complete; else the newest complete `ckpt-*`; else None."""
    ck = Path(run_dir) / CKPT_DIR
    ptr = ck / LATEST
    if ptr.is_file():
        cand = ck / ptr.read_text().strip()
        if (cand / STATE_FILE).is_file():
            return cand
    done = sorted(p for p in ck.glob("ckpt-*") if not p.name.endswith(".tmp") and (p / STATE_FILE).is_file())
    return done[-1] if done else None


def remove_stale(run_dir: Path) -> None:
    """Delete `*.tmp` leftovers of a save that was killed half-way."""
    for stale in (run_dir / CKPT_DIR).glob("*.tmp"):
        shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink()


def save_checkpoint(acc, run_dir: Path, step: int, state: dict[str, Any], keep: int,
                    extra: Callable[[Path], None] | None = None) -> Path:
    """accelerator.save_state into ckpt-XXXXXX.tmp, os.replace to ckpt-XXXXXX, then update `latest` atomically;
    keep the newest `keep` checkpoints. `extra(folder)` writes more files into the checkpoint (main process)."""
    ck = run_dir / CKPT_DIR
    name = f"ckpt-{step:06d}"
    tmp, final = ck / (name + ".tmp"), ck / name
    if acc.is_main_process:
        ck.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
    acc.wait_for_everyone()
    acc.save_state(str(tmp))  # every process: weights/optimisers (main) + its own RNG file
    acc.wait_for_everyone()
    if acc.is_main_process:
        if extra is not None:
            extra(tmp)
        write_atomic(tmp / STATE_FILE, json.dumps(state, indent=1))
        if final.exists():  # re-saving the same step (e.g. end right after a periodic save)
            old = ck / (name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
        write_atomic(ck / LATEST, name + "\n")
        done = sorted(p for p in ck.glob("ckpt-*") if p.is_dir() and p.name[5:].isdigit())
        for old in done[: max(0, len(done) - max(1, keep))]:
            if old != final:
                shutil.rmtree(old, ignore_errors=True)
    acc.wait_for_everyone()
    return final


def read_state(ckpt: Path) -> dict[str, Any]:
    """The trainer state (step, elapsed_s, ...) saved with a checkpoint."""
    return json.loads((ckpt / STATE_FILE).read_text())


def write_checksums(nets: dict[str, torch.nn.Module], run_dir: Path, rank: int) -> None:
    """checksums/rank-R.json: sum and sum of squares of every trained network (ranks must agree under DDP)."""
    out = {}
    for k, m in nets.items():
        ps = [p.detach().double() for p in m.parameters()]
        out[k] = [float(sum(p.sum() for p in ps)), float(sum((p * p).sum() for p in ps))]
    d = run_dir / "checksums"
    d.mkdir(parents=True, exist_ok=True)
    write_atomic(d / f"rank-{rank}.json", json.dumps(out))
