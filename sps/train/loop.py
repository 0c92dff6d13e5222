"""The shared Accelerate training loop: one `prepare`, gradient accumulation, checkpoints, logs, samples, export.

A stage (`sps.train.stage.Stage`) builds its networks, optimisers and training set and computes its loss terms.
`Trainer` owns everything else, identical for every stage:

* determinism: the data order comes from `RunSampler` (a pure function of the seed), and the global torch RNG is
  re-seeded from (seed, step, micro-batch, rank) after each batch is fetched, so a resumed run draws exactly
  what an uninterrupted one would (flips, target poses, dropout) without depending on saved RNG files;
* losses: the weighted sum of the stage's generator terms, backward; then of its discriminator terms, backward;
* gradient accumulation: `accelerator.no_sync` on every prepared model for all but the last micro-batch;
* checkpoints (`sps.train.checkpoint`): atomic `accelerator.save_state`; `--resume` loads the latest and skips
  the consumed batches;
* logs: every loss term by name in `log.csv` (means over `log.every` steps and all processes), tqdm on the main
  process, sample grids in `samples/step-XXXXXX.png`, export with `save_pretrained` + model card at the end.
"""
from __future__ import annotations

import contextlib
import csv
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any, Iterator

import torch
from torch.utils.data import DataLoader, Sampler

from . import checkpoint as ckpt
from . import config as C
from .averaging import WeightAverage
from .checkpoint import latest_checkpoint
from .stage import Stage

log = logging.getLogger(__name__)


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
    """The torch seed of one micro-batch of one process."""
    return (seed * 1_000_003 + step * 1_009 + micro * 101 + rank * 7 + 12345) % (2**63 - 1)


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


def lr_factor(optim, steps: int):
    """The LambdaLR factor of an `optim` section: warm-up, then constant, cosine or linear decay over `steps`."""
    def f(step: int) -> float:
        warm = min(1.0, (step + 1) / optim.warmup_steps) if optim.warmup_steps else 1.0
        t = min(1.0, step / max(1, steps))
        if optim.schedule == "cosine":
            return warm * 0.5 * (1 + math.cos(math.pi * t))
        if optim.schedule == "linear":
            return warm * (1 - t)
        return warm
    return f


def make_accelerator(cfg: C.RunConfig):
    """The run's Accelerator (RNG state is the loop's business: see the module docstring)."""
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs

    # find_unused_parameters stays False: every stage uses all parameters of every prepared module in each
    # backward (discriminators are called through DDP only in their own step; see Stage docs).
    ddp = DistributedDataParallelKwargs(find_unused_parameters=cfg.find_unused_parameters)
    return Accelerator(mixed_precision=cfg.mixed_precision, kwargs_handlers=[ddp],
                       step_scheduler_with_optimizer=False, rng_types=[])


class Trainer:
    """Trains one stage with one config: `Trainer(StageClass, cfg).run()`."""

    def __init__(self, stage_cls: type[Stage], cfg: C.RunConfig):
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.cfg, self.stage_cls = cfg, stage_cls
        self.acc = make_accelerator(cfg)
        self.run_dir = Path(cfg.out)
        self.main = self.acc.is_main_process
        self.step, self.elapsed_before, self.t0 = 0, 0.0, time.time()
        self.sums: dict[str, torch.Tensor] = {}  # running sums on the device (no per-step host sync)
        self.n_sum, self.t_log = 0, time.time()
        self.last_terms: dict[str, float] = {}
        self.sample_batch: dict[str, Any] | None = None
        self.average: WeightAverage | None = None

    # -- set-up ----------------------------------------------------------------------------------

    def open_run_dir(self) -> Path | None:
        """Create the run folder, drop half-written saves, write config.yaml; the checkpoint to resume, if any."""
        found = latest_checkpoint(self.run_dir) if self.cfg.resume else None
        if self.cfg.resume and found is None and self.main:
            log.warning("--resume: no checkpoint in %s, starting from scratch", self.run_dir / ckpt.CKPT_DIR)
        if self.main:
            (self.run_dir / "samples").mkdir(parents=True, exist_ok=True)
            ckpt.remove_stale(self.run_dir)
            C.save(self.cfg, self.run_dir / "config.yaml", self.stage_cls.name)
        self.acc.wait_for_everyone()
        return found

    def build(self) -> None:
        """Build the stage (identical initial weights on every rank), its loader and schedulers; prepare all."""
        from accelerate.utils import set_seed

        cfg, acc = self.cfg, self.acc
        set_seed(cfg.seed)
        stage = self.stage = self.stage_cls(cfg, acc)
        stage.build()
        assert stage.train_set is not None
        length = (cfg.steps * cfg.grad_accum + 2) * cfg.batch_size * acc.num_processes
        loader = DataLoader(stage.train_set, batch_size=cfg.batch_size, drop_last=True,
                            sampler=RunSampler(len(stage.train_set), cfg.seed, length),
                            num_workers=cfg.data.num_workers, persistent_workers=cfg.data.num_workers > 0)
        schedulers = {k: torch.optim.lr_scheduler.LambdaLR(o, lr_factor(cfg.optim, cfg.steps))
                      for k, o in stage.optimizers.items()}
        groups = [stage.models, stage.optimizers, schedulers]
        prepared = acc.prepare(*[v for g in groups for v in g.values()], loader)
        prepared = list(prepared) if isinstance(prepared, (list, tuple)) else [prepared]
        for g in groups:
            for k in g:
                g[k] = prepared.pop(0)
        self.loader, self.schedulers = prepared.pop(0), schedulers
        stage.raw = {k: acc.unwrap_model(m) for k, m in stage.models.items()}
        stage.prepared()
        if cfg.average.every:
            self.average = WeightAverage({k: stage.raw[k] for k in stage.exported})

    def restore(self, found: Path | None) -> None:
        """Load a checkpoint (weights, optimisers, schedulers) and the step it was saved at."""
        if found is not None:
            self.acc.load_state(str(found))
            st = ckpt.read_state(found)
            self.step, self.elapsed_before = int(st["step"]), float(st.get("elapsed_s", 0.0))
            if self.average is not None and self.average.load(found) and self.main:
                log.info("weight average: %d snapshots restored", self.average.count)
            if self.main:
                log.info("resumed from %s at step %d", found, self.step)
        self.csv = CsvLog(self.run_dir / "log.csv", self.step if found is not None else None) if self.main else None

    # -- one step --------------------------------------------------------------------------------

    def micro_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Generator terms, backward of their weighted sum; discriminator terms, backward; detached terms."""
        s = self.stage
        terms, ctx = s.generator_losses(batch)
        self.acc.backward(s.weighted(terms, s.generator_terms) / self.cfg.grad_accum)
        if s.discriminator_terms:
            d_terms = s.discriminator_losses(ctx)
            self.acc.backward(s.weighted(d_terms, s.discriminator_terms) / self.cfg.grad_accum)
            terms = {**terms, **d_terms}
        return {k: v.detach() for k, v in terms.items()}

    def run_step(self) -> None:
        """One optimiser step: `grad_accum` micro-batches, clipping, every optimiser and scheduler."""
        cfg, acc, stage = self.cfg, self.acc, self.stage
        for m in stage.models.values():
            m.train()
        stage.step = self.step
        accum = cfg.grad_accum
        for micro in range(accum):
            batch = next(self.data_iter)
            torch.manual_seed(step_seed(cfg.seed, self.step, micro, acc.process_index))  # after the fetch
            sync = contextlib.ExitStack()
            if micro < accum - 1:
                for m in stage.models.values():
                    sync.enter_context(acc.no_sync(m))
            with sync, acc.autocast():
                terms = self.micro_step(batch)
            for k, v in terms.items():
                self.sums[k] = self.sums.get(k, 0.0) + v.double() / accum
        for k, opt in stage.optimizers.items():
            if cfg.optim.clip_grad and stage.clip_params.get(k):
                acc.clip_grad_norm_(stage.clip_params[k], cfg.optim.clip_grad)
            opt.step()
            self.schedulers[k].step()
            opt.zero_grad(set_to_none=True)
        self.step += 1
        self.n_sum += 1

    # -- around the steps ------------------------------------------------------------------------

    def write_log(self) -> None:
        """Means of every term over the window and all processes -> log.csv (main process) and the bar."""
        cfg, acc = self.cfg, self.acc
        keys = sorted(self.sums)
        vec = torch.stack([torch.as_tensor(self.sums[k], dtype=torch.float64).to(acc.device) for k in keys]) / self.n_sum
        vec = acc.reduce(vec, "mean") if acc.num_processes > 1 else vec
        now = time.time()
        self.last_terms = {k: float(v) for k, v in zip(keys, vec.tolist())}
        if self.csv is not None:
            rate = self.n_sum * cfg.batch_size * acc.num_processes * cfg.grad_accum / max(1e-9, now - self.t_log)
            lr = next(iter(self.schedulers.values())).get_last_lr()[0] if self.schedulers else 0.0
            self.csv.write({"step": self.step, "time": round(self.elapsed_before + now - self.t0, 2),
                            "samples_per_s": round(rate, 3), "lr": lr,
                            **{k: round(v, 6) for k, v in self.last_terms.items()}})
            self.bar.set_postfix({k: f"{v:.3g}" for k, v in list(self.last_terms.items())[:4]})
        self.sums, self.n_sum, self.t_log = {}, 0, time.time()

    def write_samples(self) -> None:
        """samples/step-XXXXXX.png from the first training items, networks in eval mode (main process)."""
        if not self.main:
            return
        from .data import first_items
        from .grids import save_grid

        stage = self.stage
        if self.sample_batch is None:
            self.sample_batch = first_items(stage.train_set, 4)
        batch = self.sample_batch
        for m in stage.raw.values():
            m.eval()
        with torch.no_grad(), self.acc.autocast():
            cols = stage.samples({k: (v.to(self.acc.device) if torch.is_tensor(v) else v) for k, v in batch.items()})
        for m in stage.raw.values():
            m.train()
        if cols:
            save_grid(self.run_dir / "samples" / f"step-{self.step:06d}.png", cols)

    def state(self) -> dict[str, Any]:
        """What a checkpoint and the model card record about the run so far."""
        nproc = self.acc.num_processes
        return {"stage": self.stage.name, "step": self.step, "elapsed_s": self.elapsed_before + time.time() - self.t0,
                "num_processes": nproc, "global_batch": self.cfg.batch_size * nproc * self.cfg.grad_accum}

    def save(self) -> None:
        ckpt.save_checkpoint(self.acc, self.run_dir, self.step, self.state(), self.cfg.checkpoint.keep,
                             self.average.save if self.average is not None else None)

    def average_note(self) -> str:
        """How the exported weights were averaged, for the model card ("" without averaging)."""
        a = self.average
        if a is None or not a.count:
            return ""
        c = self.cfg.average
        first = max(1, -(-c.start // c.every)) * c.every  # the first multiple of `every` at or after `start`
        return f"weights: the mean of {a.count} snapshots, one every {c.every} steps from step {first}"

    def time_up(self) -> bool:
        """Whether `max_minutes` has passed on any process (all processes agree)."""
        up = torch.tensor([float(time.time() - self.t0 > self.cfg.max_minutes * 60)], device=self.acc.device)
        if self.acc.num_processes > 1:
            up = self.acc.reduce(up, "max")
        return up.item() > 0

    def every(self, n: int) -> bool:
        return bool(n) and self.step % n == 0

    # -- the run ---------------------------------------------------------------------------------

    def train(self) -> bool:
        """Steps until `steps` (or `max_minutes`); True when stopped early."""
        from tqdm.auto import tqdm

        cfg = self.cfg
        skip = self.step * cfg.grad_accum
        self.data_iter = iter(self.acc.skip_first_batches(self.loader, skip) if skip else self.loader)
        quiet = os.environ.get("TQDM_DISABLE", "").lower() in ("1", "true", "yes")  # an explicit disable= hides it
        self.bar = tqdm(total=cfg.steps, initial=self.step, disable=quiet or not self.acc.is_local_main_process,
                        desc=self.stage.name, dynamic_ncols=True)
        self.t0 = self.t_log = time.time()
        stopped = False
        while self.step < cfg.steps:
            self.run_step()
            self.bar.update(1)
            if self.average is not None and self.step >= cfg.average.start and self.every(cfg.average.every):
                self.average.add()
            if self.every(max(1, cfg.log.every)) or self.step == cfg.steps:
                self.write_log()
            if self.step == cfg.steps:
                break
            if self.every(cfg.log.sample_every):
                self.write_samples()
            if self.every(cfg.checkpoint.every):
                self.save()
            if cfg.max_minutes and self.time_up():
                stopped = True
                if self.main:
                    log.warning("--max_minutes %.1f reached at step %d: checkpoint + export", cfg.max_minutes,
                                self.step)
                break
        self.bar.close()
        return stopped

    def finish(self, stopped_early: bool) -> dict[str, Any]:
        """Last checkpoint, samples, metrics and export; the run's summary."""
        self.save()
        stage = self.stage
        summary: dict[str, Any] = {"stage": stage.name, "steps": self.step, "stopped_early": stopped_early,
                                   "final_losses": self.last_terms}
        if self.main:
            averaged = self.average.applied() if self.average is not None else contextlib.nullcontext()
            with averaged:  # samples, metrics and exports of the averaged weights
                self.write_samples()
                for m in stage.raw.values():
                    m.eval()
                with torch.no_grad():
                    metrics = stage.evaluate()
                summary["metrics"] = metrics
                summary["exports"] = export_all(stage, self.cfg, self.run_dir, self.step, self.state(),
                                                self.last_terms, metrics, self.average_note())
            (self.run_dir / "metrics.json").write_text(json.dumps(summary, indent=1))
        ckpt.write_checksums(stage.raw, self.run_dir, self.acc.process_index)
        self.acc.wait_for_everyone()
        self.acc.end_training()
        return summary

    def run(self) -> dict[str, Any]:
        """The whole run; returns a summary (steps, final losses, metrics, export paths)."""
        found = self.open_run_dir()
        self.build()
        self.restore(found)
        return self.finish(self.train())


def run(stage_cls: type[Stage], cfg: C.RunConfig) -> dict[str, Any]:
    """Train one stage with `cfg`; returns a summary (steps, metrics, export paths)."""
    return Trainer(stage_cls, cfg).run()


def export_all(stage: Stage, cfg: C.RunConfig, run_dir: Path, step: int, state: dict[str, Any],
               losses: dict[str, float], metrics: dict[str, float], note: str = "") -> list[str]:
    """save_pretrained every exported network into RUN_DIR/export/<network>/ with a README.md model card."""
    from .export import save_network

    data = "; ".join(filter(None, [stage.data_description(), f"loss: {stage.loss_description()}", note]))
    paths = []
    for k in stage.exported:
        folder = run_dir / "export" / stage.export_names.get(k, k)
        save_network(stage.raw[k], folder, stage=stage.name, cfg=cfg, step=step, state=state, losses=losses,
                     metrics=metrics, data=data, fp16=cfg.export_fp16)
        paths.append(str(folder))
    return paths
