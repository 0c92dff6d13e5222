"""EfficientNet-Lite0 perceptual network: ImageNet weights load strictly and classify a real photo."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sps.errors import WeightsError
from sps.models import PerceptualNet

torch.set_num_threads(1)
MILITARY_UNIFORM = 652


@pytest.fixture(scope="module")
def net() -> PerceptualNet:
    return PerceptualNet()


def grace_hopper() -> torch.Tensor:
    import matplotlib.cbook

    try:
        path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    except Exception:
        import matplotlib

        path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    if not Path(path).is_file():
        pytest.skip("matplotlib's grace_hopper.jpg sample is not installed")
    img = Image.open(path).convert("RGB").resize((224, 224), Image.BICUBIC)
    return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)[None].float() / 127.5 - 1


def test_classifies_grace_hopper(net):
    logits = net.classify(grace_hopper())
    assert logits.shape == (1, 1000)
    assert MILITARY_UNIFORM in logits.topk(5).indices[0].tolist()


def test_features_frozen_and_differentiable(net):
    x = (torch.rand(2, 3, 128, 96) * 2 - 1).requires_grad_(True)
    feats = net(x)
    assert [tuple(f.shape) for f in feats] == [(2, 24, 32, 24), (2, 40, 16, 12), (2, 112, 8, 6)]
    assert not any(p.requires_grad for p in net.parameters())
    net.train()
    assert not net.training and not any(m.training for m in net.modules())
    sum(f.square().mean() for f in feats).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_vgg_needs_local_weights():
    with pytest.raises(WeightsError, match="weights_path"):
        PerceptualNet("vgg16")
    with pytest.raises(WeightsError, match="not found"):
        PerceptualNet("vgg19", weights_path="/nonexistent/vgg19.pth")
    with pytest.raises(ValueError):
        PerceptualNet("resnet")
