"""The shared Accelerate training loop: one `prepare`, gradient accumulation, atomic checkpoints, logs, samples.

A stage (see `Stage`) builds its networks, optimisers and training set and implements one micro-step
(forward + `accelerator.backward`). The loop owns everything else, identical for every stage:

* determinism: the data order comes from `RunSampler` (a pure function of the seed), and the global torch RNG is
  re-seeded from (seed, step, micro-batch, rank) after each batch is fetched, so a resumed run draws exactly
  what an uninterrupted one would (flips, target poses, dropout) without depending on saved RNG files;
* gradient accumulation: `accelerator.no_sync` on every prepared model for all but the last micro-batch;
* checkpoints: `accelerator.save_state` into `ckpt-XXXXXX.tmp`, renamed with `os.replace`, then the `latest`
  pointer file is replaced atomically; `--resume` loads the latest and skips the consumed batches;
* logs: every loss term by name in `log.csv` (means over `log_every` steps and all processes), tqdm on the main
  process, sample grids in `samples/step-XXXXXX.png`, export with `save_pretrained` + model card at the end.
"""
from __future__ import annotations

import contextlib
import csv
import json
import logging
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any, Iterator

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from . import config as C

log = logging.getLogger(__name__)

CKPT_DIR = "checkpoints"
LATEST = "latest"
STATE_FILE = "trainer_state.json"
_STEP_DELAY = float(os.environ.get("SPS_TRAIN_STEP_DELAY", "0") or 0)


# ---------------------------------------------------------------------------------------------
# Stage interface
# ---------------------------------------------------------------------------------------------

class Stage:
    """One training stage. Subclasses set `name`, `config_cls` and implement `build` and `micro_step`.

    After `build`: `self.models` (trainable nets to prepare, by name), `self.optimizers` (by name; each with a
    list of parameters to clip in `self.clip_params[name]`), `self.train_set`. The loop replaces `self.models`
    entries with the prepared (possibly DDP-wrapped) modules and keeps the plain ones in `self.raw`.
    """

    name = "stage"
    exported: tuple[str, ...] = ()  # names in self.raw saved with save_pretrained at the end
    export_names: dict[str, str] = {}  # model name -> export folder name (weights/<folder>)

    def __init__(self, cfg: C.RunConfig, accelerator):
        self.cfg, self.acc = cfg, accelerator
        self.models: dict[str, torch.nn.Module] = {}
        self.raw: dict[str, torch.nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.clip_params: dict[str, list[torch.nn.Parameter]] = {}
        self.train_set: Dataset | None = None
        self.step = 0

    @property
    def device(self) -> torch.device:
        return self.acc.device

    def build(self) -> None:
        raise NotImplementedError

    def micro_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Forward + backward (with `self.acc.backward(loss / grad_accum)`) of one micro-batch; detached terms."""
        raise NotImplementedError

    def backward(self, loss: torch.Tensor) -> None:
        self.acc.backward(loss / self.cfg.grad_accum)

    def samples(self, batch: dict[str, Any]) -> list[tuple[str, Any]]:
        """Columns (caption, (B, H, W, 3) uint8) of a sample grid, computed with `self.raw` in eval mode."""
        return []

    def evaluate(self) -> dict[str, float]:
        """Final metrics for the model card (main process, eval mode)."""
        return {}

    def data_description(self) -> str:
        return ""

    def adam(self, params, lr: float | None = None) -> torch.optim.Optimizer:
        c = self.cfg
        return torch.optim.Adam(list(params), lr=c.lr if lr is None else lr, betas=(c.beta1, c.beta2),
                                weight_decay=c.weight_decay)


# ---------------------------------------------------------------------------------------------
# Data order
# ---------------------------------------------------------------------------------------------

class RunSampler(Sampler[int]):
    """Indices for a whole run: per-epoch permutations seeded by (seed, epoch), concatenated to `length`.

    A pure function of (n, seed): resuming only needs the number of consumed batches (skip_first_batches).
    """

    def __init__(self, n: int, seed: int, length: int):
        if n <= 0:
            raise ValueError("empty training set")
        self.n, self.seed, self.length = n, seed, length

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[int]:
        done, epoch = 0, 0
        while done < self.length:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            for i in torch.randperm(self.n, generator=g).tolist():
                if done >= self.length:
                    return
                yield i
                done += 1
            epoch += 1


def step_seed(seed: int, step: int, micro: int, rank: int) -> int:
    return (seed * 1_000_003 + step * 1_009 + micro * 101 + rank * 7 + 12345) % (2**63 - 1)


# ---------------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------------

def _write_atomic(path: Path, text: str) -> None:
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


def save_checkpoint(acc, run_dir: Path, step: int, state: dict[str, Any], keep: int) -> Path:
    """accelerator.save_state into ckpt-XXXXXX.tmp, os.replace to ckpt-XXXXXX, then update `latest` atomically."""
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
        _write_atomic(tmp / STATE_FILE, json.dumps(state, indent=1))
        if final.exists():  # re-saving the same step (e.g. end right after a periodic save)
            old = ck / (name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
        _write_atomic(ck / LATEST, name + "\n")
        done = sorted(p for p in ck.glob("ckpt-*") if p.is_dir() and p.name[5:].isdigit())
        for old in done[: max(0, len(done) - max(1, keep))]:
            if old != final:
                shutil.rmtree(old, ignore_errors=True)
    acc.wait_for_everyone()
    return final


# ---------------------------------------------------------------------------------------------
# Logging
# ---------------------------------------------------------------------------------------------

class CsvLog:
    """log.csv with a fixed header (step, time, samples_per_s, lr, then each term by name), appended per row."""

    def __init__(self, path: Path, resume_step: int | None):
        self.path, self.fields = path, None
        if path.is_file() and resume_step is not None:  # drop rows written after the checkpoint we resume from
            with open(path) as fh:
                rows = list(csv.DictReader(fh))
            if rows:
                self.fields = list(rows[0].keys())
                keep = [r for r in rows if int(r["step"]) <= resume_step]
                with open(path, "w", newline="") as fh:
                    w = csv.DictWriter(fh, self.fields)
                    w.writeheader()
                    w.writerows(keep)
        elif path.is_file():
            path.unlink()

    def write(self, row: dict[str, float]) -> None:
        if self.fields is None:
            self.fields = list(row.keys())
            with open(self.path, "w", newline="") as fh:
                csv.DictWriter(fh, self.fields).writeheader()
        with open(self.path, "a", newline="") as fh:
            csv.DictWriter(fh, self.fields, extrasaction="ignore").writerow(row)


def _lr_lambda(cfg: C.RunConfig):
    def f(step: int) -> float:
        warm = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps else 1.0
        t = min(1.0, step / max(1, cfg.steps))
        if cfg.lr_schedule == "cosine":
            return warm * 0.5 * (1 + math.cos(math.pi * t))
        if cfg.lr_schedule == "linear":
            return warm * (1 - t)
        return warm
    return f


# ---------------------------------------------------------------------------------------------
# The loop
# ---------------------------------------------------------------------------------------------

def make_accelerator(cfg: C.RunConfig):
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs

    # find_unused_parameters stays False: every stage uses all parameters of every prepared module in each
    # backward (discriminators are called through DDP only in their own step; see Stage docs).
    ddp = DistributedDataParallelKwargs(find_unused_parameters=cfg.find_unused_parameters)
    return Accelerator(mixed_precision=cfg.mixed_precision, kwargs_handlers=[ddp],
                       step_scheduler_with_optimizer=False, rng_types=[])


def _sample_batch(ds: Dataset, n: int) -> dict[str, Any]:
    from torch.utils.data import default_collate

    return default_collate([ds[i] for i in range(min(n, len(ds)))])


def run(stage_cls: type[Stage], cfg: C.RunConfig) -> dict[str, Any]:
    """Train one stage with `cfg`; returns a summary (steps, metrics, export paths)."""
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    acc = make_accelerator(cfg)
    run_dir = Path(cfg.out)
    ckpt = latest_checkpoint(run_dir) if cfg.resume else None
    if cfg.resume and ckpt is None and acc.is_main_process:
        log.warning("--resume: no checkpoint in %s, starting from scratch", run_dir / CKPT_DIR)
    if acc.is_main_process:
        (run_dir / "samples").mkdir(parents=True, exist_ok=True)
        for stale in (run_dir / CKPT_DIR).glob("*.tmp"):  # a save killed half-way
            shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink()
        C.save(cfg, run_dir / "config.yaml", stage_cls.name)
    acc.wait_for_everyone()

    set_seed(cfg.seed)  # identical initial weights on every rank
    stage = stage_cls(cfg, acc)
    stage.build()
    assert stage.train_set is not None
    nproc, accum = acc.num_processes, cfg.grad_accum
    length = (cfg.steps * accum + 2) * cfg.batch_size * nproc
    loader = DataLoader(stage.train_set, batch_size=cfg.batch_size, drop_last=True,
                        sampler=RunSampler(len(stage.train_set), cfg.seed, length), num_workers=cfg.num_workers,
                        persistent_workers=cfg.num_workers > 0)
    schedulers = {k: torch.optim.lr_scheduler.LambdaLR(o, _lr_lambda(cfg)) for k, o in stage.optimizers.items()}
    names_m, names_o, names_s = list(stage.models), list(stage.optimizers), list(schedulers)
    prepared = acc.prepare(*[stage.models[k] for k in names_m], *[stage.optimizers[k] for k in names_o],
                           *[schedulers[k] for k in names_s], loader)
    prepared = list(prepared) if isinstance(prepared, (list, tuple)) else [prepared]
    for k in names_m:
        stage.models[k] = prepared.pop(0)
        stage.raw[k] = acc.unwrap_model(stage.models[k])
    for k in names_o:
        stage.optimizers[k] = prepared.pop(0)
    for k in names_s:
        schedulers[k] = prepared.pop(0)
    loader = prepared.pop(0)

    step, elapsed_before = 0, 0.0
    if ckpt is not None:
        acc.load_state(str(ckpt))
        st = json.loads((ckpt / STATE_FILE).read_text())
        step, elapsed_before = int(st["step"]), float(st.get("elapsed_s", 0.0))
        if acc.is_main_process:
            log.info("resumed from %s at step %d", ckpt, step)
    csv_log = CsvLog(run_dir / "log.csv", step if ckpt is not None else None) if acc.is_main_process else None
    data_iter = iter(acc.skip_first_batches(loader, step * accum) if step else loader)
    sample_batch = _sample_batch(stage.train_set, 4) if acc.is_main_process else None
    t0 = time.time()
    sums: dict[str, float] = {}
    n_sum, t_log = 0, time.time()
    rank = acc.process_index
    quiet = os.environ.get("TQDM_DISABLE", "").lower() in ("1", "true", "yes")  # an explicit disable= hides it
    bar = tqdm(total=cfg.steps, initial=step, disable=quiet or not acc.is_local_main_process, desc=stage.name,
               dynamic_ncols=True)
    last_terms: dict[str, float] = {}
    stopped_early = False

    def write_samples(at: int) -> None:
        if not acc.is_main_process:
            return
        from .common import save_grid

        for m in stage.raw.values():
            m.eval()
        with torch.no_grad(), acc.autocast():
            cols = stage.samples({k: (v.to(acc.device) if torch.is_tensor(v) else v) for k, v in sample_batch.items()})
        for m in stage.raw.values():
            m.train()
        if cols:
            save_grid(run_dir / "samples" / f"step-{at:06d}.png", cols)

    def trainer_state() -> dict[str, Any]:
        return {"stage": stage.name, "step": step, "elapsed_s": elapsed_before + time.time() - t0,
                "num_processes": nproc, "global_batch": cfg.batch_size * nproc * accum}

    while step < cfg.steps:
        for m in stage.models.values():
            m.train()
        stage.step = step
        for micro in range(accum):
            batch = next(data_iter)
            torch.manual_seed(step_seed(cfg.seed, step, micro, rank))  # after the fetch: see module docstring
            sync = contextlib.ExitStack()
            if micro < accum - 1:
                for m in stage.models.values():
                    sync.enter_context(acc.no_sync(m))
            with sync, acc.autocast():
                terms = stage.micro_step(batch)
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + float(v) / accum
        for k, opt in stage.optimizers.items():
            if cfg.clip_grad and stage.clip_params.get(k):
                acc.clip_grad_norm_(stage.clip_params[k], cfg.clip_grad)
            opt.step()
            schedulers[k].step()
            opt.zero_grad(set_to_none=True)
        step += 1
        n_sum += 1
        bar.update(1)
        if _STEP_DELAY:  # test hook: slow a run down so a test can kill it between checkpoints
            time.sleep(_STEP_DELAY)

        if step % max(1, cfg.log_every) == 0 or step == cfg.steps:
            keys = sorted(sums)
            vec = torch.tensor([sums[k] / n_sum for k in keys], device=acc.device, dtype=torch.float64)
            vec = acc.reduce(vec, "mean") if nproc > 1 else vec
            now = time.time()
            last_terms = {k: float(v) for k, v in zip(keys, vec.tolist())}
            if csv_log is not None:
                rate = n_sum * cfg.batch_size * nproc * accum / max(1e-9, now - t_log)
                lr = next(iter(schedulers.values())).get_last_lr()[0] if schedulers else 0.0
                csv_log.write({"step": step, "time": round(elapsed_before + now - t0, 2),
                               "samples_per_s": round(rate, 3), "lr": lr,
                               **{k: round(v, 6) for k, v in last_terms.items()}})
                bar.set_postfix({k: f"{v:.3g}" for k, v in list(last_terms.items())[:4]})
            sums, n_sum, t_log = {}, 0, time.time()

        if cfg.sample_every and step % cfg.sample_every == 0 and step < cfg.steps:
            write_samples(step)
        if cfg.ckpt_every and step % cfg.ckpt_every == 0 and step < cfg.steps:
            save_checkpoint(acc, run_dir, step, trainer_state(), cfg.keep_ckpts)
        if cfg.max_minutes:
            up = torch.tensor([float(time.time() - t0 > cfg.max_minutes * 60)], device=acc.device)
            if nproc > 1:
                up = acc.reduce(up, "max")
            if up.item() > 0 and step < cfg.steps:
                stopped_early = True
                if acc.is_main_process:
                    log.warning("--max_minutes %.1f reached at step %d: checkpoint + export", cfg.max_minutes, step)
                break
    bar.close()

    save_checkpoint(acc, run_dir, step, trainer_state(), cfg.keep_ckpts)
    summary: dict[str, Any] = {"stage": stage.name, "steps": step, "stopped_early": stopped_early,
                               "final_losses": last_terms}
    if acc.is_main_process:
        write_samples(step)
        for m in stage.raw.values():
            m.eval()
        with torch.no_grad():
            metrics = stage.evaluate()
        summary["metrics"] = metrics
        summary["exports"] = export_all(stage, cfg, run_dir, step, trainer_state(), last_terms, metrics)
        (run_dir / "metrics.json").write_text(json.dumps(summary, indent=1))
    _write_checksum(stage, run_dir, rank)
    acc.wait_for_everyone()
    acc.end_training()
    return summary


def _write_checksum(stage: Stage, run_dir: Path, rank: int) -> None:
    """checksums/rank-R.json: sum and sum of squares of every trained network (ranks must agree under DDP)."""
    out = {}
    for k, m in stage.raw.items():
        ps = [p.detach().double() for p in m.parameters()]
        out[k] = [float(sum(p.sum() for p in ps)), float(sum((p * p).sum() for p in ps))]
    d = run_dir / "checksums"
    d.mkdir(parents=True, exist_ok=True)
    _write_atomic(d / f"rank-{rank}.json", json.dumps(out))


def export_all(stage: Stage, cfg: C.RunConfig, run_dir: Path, step: int, state: dict[str, Any],
               losses: dict[str, float], metrics: dict[str, float]) -> list[str]:
    """save_pretrained every exported network into RUN_DIR/export/<network>/ with a README.md model card."""
    from .export import save_network

    paths = []
    for k in stage.exported:
        folder = run_dir / "export" / stage.export_names.get(k, k)
        save_network(stage.raw[k], folder, stage=stage.name, cfg=cfg, step=step, state=state, losses=losses,
                     metrics=metrics, data=stage.data_description(), fp16=cfg.export_fp16)
        paths.append(str(folder))
    return paths
