"""The stage interface: a stage builds its networks and data, and declares its loss terms.

A stage computes its loss terms *unweighted* and names, for each, the `LossWeights` field (the `loss` section of
its config) that weights it. The loop (`sps.train.loop.Trainer`) does the rest the same way for every stage:

    terms, ctx = stage.generator_losses(batch)        # {name: scalar}, and what the discriminators need
    backward(stage.weighted(terms, stage.generator_terms))
    d_terms = stage.discriminator_losses(ctx)        # only when stage.discriminator_terms is not empty
    backward(stage.weighted(d_terms, stage.discriminator_terms))

and logs every term by name. A term declared with weight `None` is a metric (logged, never weighted).
"""
from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch.utils.data import Dataset

Terms = dict[str, torch.Tensor]


class Stage:
    """One training stage. Subclasses set `name`, `config_cls`, the term declarations, and implement `build`
    and `generator_losses` (and `discriminator_losses` when they train discriminators).

    After `build`: `self.models` (trainable nets to prepare, by name), `self.optimizers` (by name; each with a
    list of parameters to clip in `self.clip_params[name]`), `self.train_set`. The loop replaces `self.models`
    entries with the prepared (possibly DDP-wrapped) modules, keeps the plain ones in `self.raw`, then calls
    `prepared` (where generator stages build their `SPSModel` over the prepared modules).
    """

    name = "stage"
    config_cls: ClassVar[type] = object
    exported: tuple[str, ...] = ()  # names in self.raw saved with save_pretrained at the end
    export_names: ClassVar[dict[str, str]] = {}  # model name -> export folder name (weights/<folder>)
    generator_terms: ClassVar[dict[str, str | None]] = {}  # term -> LossWeights field (None: a metric, logged)
    discriminator_terms: ClassVar[dict[str, str]] = {}  # term -> LossWeights field

    def __init__(self, cfg, accelerator):
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

    # -- to implement ----------------------------------------------------------------------------

    def build(self) -> None:
        raise NotImplementedError

    def prepared(self) -> None:
        """Called once `self.models` hold the prepared modules and `self.raw` the plain ones."""

    def generator_losses(self, batch: dict[str, Any]) -> tuple[Terms, Any]:
        """Every declared generator term (unweighted) of one micro-batch, and what `discriminator_losses` needs."""
        raise NotImplementedError

    def discriminator_losses(self, ctx: Any) -> Terms:
        """Every declared discriminator term (unweighted), from the context `generator_losses` returned."""
        raise NotImplementedError

    def samples(self, batch: dict[str, Any]) -> list[tuple[str, Any]]:
        """Columns (caption, (B, H, W, 3) uint8) of a sample grid, computed with `self.raw` in eval mode."""
        return []

    def evaluate(self) -> dict[str, float]:
        """Final metrics for the model card (main process, eval mode)."""
        return {}

    def data_description(self) -> str:
        return ""

    # -- shared ----------------------------------------------------------------------------------

    def weighted(self, terms: Terms, declared: dict[str, str | None]) -> torch.Tensor:
        """sum of `loss.<field> * term` over the declared terms with a weight, in declaration order."""
        missing, extra = set(declared) - set(terms), set(terms) - set(declared)
        if missing or extra:
            raise KeyError(f"stage {self.name}: terms {sorted(missing)} declared but not computed, "
                           f"{sorted(extra)} computed but not declared")
        total = None
        for name, field in declared.items():
            if field is not None:
                part = getattr(self.cfg.loss, field) * terms[name]
                total = part if total is None else total + part
        if total is None:
            raise ValueError(f"stage {self.name}: no weighted term")
        return total

    def loss_description(self) -> str:
        """The stage's loss terms and their weights, e.g. "ce x1 (parsing_ce), d_parsing x1 (adv)"."""
        declared = {**self.generator_terms, **self.discriminator_terms}
        return ", ".join(f"{name} x{getattr(self.cfg.loss, field):g} ({field})" for name, field in declared.items()
                         if field is not None)

    def adam(self, params, lr: float | None = None) -> torch.optim.Optimizer:
        """Adam with the `optim` section's betas and weight decay (lr: `optim.lr` unless given)."""
        o = self.cfg.optim
        return torch.optim.Adam(list(params), lr=o.lr if lr is None else lr, betas=(o.beta1, o.beta2),
                                weight_decay=o.weight_decay)

    def train_net(self, name: str, net: torch.nn.Module, lr: float | None = None) -> None:
        """Register a trained network with its own Adam and gradient clipping."""
        self.models[name] = net
        self.optimizers[name] = self.adam(net.parameters(), lr)
        self.clip_params[name] = list(net.parameters())
