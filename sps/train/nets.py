"""Networks a stage trains or uses frozen: fresh ones of the run's preset, exported ones to start from."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import torch


def set_requires_grad(module: torch.nn.Module, flag: bool) -> None:
    """Switch gradients of every parameter of `module` on or off."""
    for p in module.parameters():
        p.requires_grad_(flag)


@contextlib.contextmanager
def no_param_grads(module: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Call `module` without recording gradients for its parameters (a discriminator in the generator step);
    gradients still flow through it to its inputs."""
    set_requires_grad(module, False)
    try:
        yield module
    finally:
        set_requires_grad(module, True)


def freeze(module: torch.nn.Module) -> torch.nn.Module:
    """Eval mode and no gradients, for good (frozen helpers: pose estimator, perceptual network, G_S)."""
    module.eval()
    set_requires_grad(module, False)
    return module


def new_net(cls_name: str, cfg, config_name: str | None = None) -> torch.nn.Module:
    """A freshly initialised `sps.models.<cls_name>` of the run's preset and canvas (its config class:
    `config_name`, default `<cls_name>Config`)."""
    from .. import models as M

    config_cls = getattr(M, config_name or cls_name + "Config")
    return getattr(M, cls_name)(config_cls.preset(cfg.preset, canvas=tuple(cfg.canvas)))


def load_net(cls_name: str, path: str, cfg, what: str) -> torch.nn.Module:
    """A network to start from: `Class.from_pretrained(path)` (strict), or a fresh one of the run's preset when
    `path` is "random" (smoke tests, benchmarks). Its canvas must be the run's canvas. `what` names the option."""
    from .. import models as M
    from ..errors import WeightsError

    if path == "random":
        net = new_net(cls_name, cfg)
    else:
        if not Path(path).exists():
            raise WeightsError(f"--{what} {path}: no such folder (train the earlier stage first, or pass "
                               f"RUN_DIR/export/<network> of its run)")
        net = getattr(M, cls_name).from_pretrained(path)
    if tuple(net.config.canvas) != tuple(cfg.canvas):
        raise WeightsError(f"--{what} {path}: network canvas {tuple(net.config.canvas)} differs from the run's "
                           f"--canvas {tuple(cfg.canvas)}")
    return net


def start_net(cls_name: str, cfg) -> torch.nn.Module:
    """The network a stage trains: from `cfg.weights.init` when set (fine-tuning), else fresh."""
    init = cfg.weights.init
    return load_net(cls_name, init, cfg, "weights.init") if init else new_net(cls_name, cfg)
