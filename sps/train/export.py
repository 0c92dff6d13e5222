"""Export trained networks: `save_pretrained` (config.json + model.safetensors) and a README.md model card."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import yaml

from . import config as C

CARD = """---
library_name: sps
tags:
- person-image-generation
- pose-transfer
- semantic-parsing
- pytorch
license: other
---

# sps {network}

`{cls}` of **sps**, an implementation of *Unsupervised Person Image Generation with Semantic Parsing
Transformation* (Song et al., CVPR 2019). Trained by stage `{stage}` of `python -m sps.train`.

```python
from sps.models import {cls}
net = {cls}.from_pretrained("{network}")  # folder or Hub repo id
```

## Training

- data: {data}
- steps: {step} (global batch {global_batch}, {num_processes} process(es)), {elapsed:.1f} minutes
- canvas (H, W): {canvas}; preset: `{preset}`; parameters: {params:,}; dtype: {dtype}

## Metrics

{metrics}

## Final losses (mean of the last logging window)

{losses}

## Config

Reproduce with `python -m sps.train {stage} --config config.yaml` (this block saved as config.yaml; options on
the command line override it, e.g. `--optim.lr 1e-4`):

```yaml
{config}```

## Limitations

Trained on research datasets (VITON, DeepFashion, Market-1501) whose licences forbid redistributing the images;
for research use. The models were trained at a small scale ({canvas_s} canvas) on CPU unless the config says
otherwise, and inherit the biases of those datasets (mostly young women in fashion photos, frontal views).
"""


def _table(d: dict[str, float]) -> str:
    if not d:
        return "(none)"
    rows = ["| name | value |", "|---|---:|"]
    rows += [f"| {k} | {v:.4g} |" if isinstance(v, (int, float)) else f"| {k} | {v} |" for k, v in d.items()]
    return "\n".join(rows)


def save_network(net: torch.nn.Module, folder: str | Path, stage: str, cfg: C.RunConfig, step: int,
                 state: dict[str, Any], losses: dict[str, float], metrics: dict[str, float], data: str,
                 fp16: bool = False) -> Path:
    """Write `folder/{config.json, model.safetensors, README.md}`; loadable with `Class.from_pretrained(folder)`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    net.save_pretrained(folder, dtype=torch.float16 if fp16 else None)
    dtype = "float16" if fp16 else str(next(net.parameters()).dtype).replace("torch.", "")
    card = CARD.format(
        network=folder.name, cls=type(net).__name__, stage=stage, data=data or "see config",
        step=step, global_batch=state.get("global_batch", cfg.batch_size), num_processes=state.get("num_processes", 1),
        elapsed=state.get("elapsed_s", 0.0) / 60, canvas=tuple(cfg.canvas), canvas_s="x".join(map(str, cfg.canvas)),
        preset=cfg.preset, params=sum(p.numel() for p in net.parameters()), dtype=dtype,
        metrics=_table(metrics), losses=_table(losses),
        config=yaml.safe_dump({"stage": stage, **C.to_dict(cfg)}, sort_keys=False))
    (folder / "README.md").write_text(card)
    (folder / "training.json").write_text(json.dumps({"stage": stage, "step": step, "metrics": metrics,
                                                       "final_losses": losses}, indent=1))
    return folder
