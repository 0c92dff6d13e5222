"""Weight averaging of a run's exported networks: snapshots every N steps, the export is their mean.

A GAN's weights wander from step to step: G_S's layout mIoU on held-out pairs moved by up to 0.03 between
checkpoints 500 steps apart, and the mean of five such snapshots scored about as well as the best of them. The running
sums are saved with every checkpoint, so a resumed run keeps averaging where it stopped.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

FILE = "average.safetensors"
COUNT = "__count__"


class WeightAverage:
    """Running sums of the floating-point tensors of some networks (``{name: module}``)."""

    def __init__(self, nets: dict[str, torch.nn.Module]) -> None:
        self.nets = nets
        self.count = 0
        self.sums = {k: {n: torch.zeros_like(t, dtype=torch.float64) for n, t in m.state_dict().items()
                         if t.is_floating_point()} for k, m in nets.items()}

    def add(self) -> None:
        """Add the networks' current weights as one snapshot."""
        with torch.no_grad():
            for k, m in self.nets.items():
                state = m.state_dict()
                for n, s in self.sums[k].items():
                    s += state[n].detach().to(s)
        self.count += 1

    def mean(self, name: str) -> dict[str, torch.Tensor]:
        """The averaged state dict of one network (non-float tensors as they are now)."""
        state = self.nets[name].state_dict()
        return {n: (self.sums[name][n] / self.count).to(t.dtype) if n in self.sums[name] else t
                for n, t in state.items()}

    @contextlib.contextmanager
    def applied(self) -> Iterator[None]:
        """Inside the block the networks hold the averaged weights (nothing changes before the first snapshot)."""
        if not self.count:
            yield
            return
        saved = {k: {n: t.detach().clone() for n, t in m.state_dict().items()} for k, m in self.nets.items()}
        try:
            for k, m in self.nets.items():
                m.load_state_dict(self.mean(k))
            yield
        finally:
            for k, m in self.nets.items():
                m.load_state_dict(saved[k])

    def save(self, folder: Path) -> None:
        flat = {f"{k}/{n}": s.contiguous() for k, sums in self.sums.items() for n, s in sums.items()}
        save_file({**flat, COUNT: torch.tensor([self.count])}, str(folder / FILE))

    def load(self, folder: Path) -> bool:
        """Restore the sums saved with a checkpoint; False (sums left empty) when it has none."""
        path = folder / FILE
        if not path.is_file():
            return False
        flat = load_file(str(path))
        for k, sums in self.sums.items():
            for n in sums:
                sums[n] = flat[f"{k}/{n}"].to(torch.float64)
        self.count = int(flat[COUNT][0])
        return True
