"""SPSModel: the one generation path (typed inputs in, typed output out), shared by training and inference."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sps import parsing as P
from sps import pose as K
from sps.models import (AppearanceGenerator, AppearanceGeneratorConfig, SemanticGenerator, SemanticGeneratorConfig,
                        SPSModel, SPSModelConfig, body_region)

from conftest import synthetic_parsing, synthetic_pose

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model() -> SPSModel:
    torch.manual_seed(0)
    g_s = SemanticGenerator(SemanticGeneratorConfig.preset("tiny")).eval()
    g_a = AppearanceGenerator(AppearanceGeneratorConfig.preset("tiny")).eval()
    return SPSModel(g_s, g_a)


def _batch(model: SPSModel, b: int = 2):
    h, w = model.canvas
    kps = torch.from_numpy(np.stack([synthetic_pose(h, w) for _ in range(b)]))
    labels = torch.from_numpy(np.stack([synthetic_parsing(h, w, k.numpy()) for k in kps]).astype(np.int64))
    image = torch.rand(b, 3, h, w) * 2 - 1
    target = kps.clone()
    target[:, 3:5, 1] -= 4  # raise the right arm
    return image, labels, kps, target


def test_person_makes_heatmaps_and_one_hot_once(model):
    image, labels, kps, _ = _batch(model)
    src = model.person(image, labels, kps)
    assert src.parsing.shape == (2, 10, *model.canvas) and src.heatmaps.shape == (2, 18, *model.canvas)
    torch.testing.assert_close(src.parsing, P.one_hot(labels))
    torch.testing.assert_close(src.heatmaps, K.heatmaps_torch(kps, model.canvas))
    assert torch.equal(src.labels, labels)
    soft = torch.softmax(torch.randn(2, 10, *model.canvas), 1)
    assert model.person(None, soft, kps).parsing is soft  # maps pass through


@torch.no_grad()
def test_forward_equals_transform_then_render(model):
    image, labels, kps, target = _batch(model)
    src = model.person(image, labels, kps)
    out = model(src, target)
    assert out.image.shape == (2, 3, *model.canvas) and out.image.abs().max() <= 1
    sem = model.transform(src, target)
    torch.testing.assert_close(out.target_logits, sem.logits)
    torch.testing.assert_close(out.target_probs, sem.logits.softmax(1))
    torch.testing.assert_close(out.image, model.render(src, sem.target))
    # a given target parsing skips G_S and reaches G_A as one-hot maps
    given = model(src, target, target_parsing=labels)
    assert given.target_logits is None
    torch.testing.assert_close(given.target.parsing, P.one_hot(labels))


@torch.no_grad()
def test_hard_target_parsing_and_margin(model):
    image, labels, kps, target = _batch(model)
    src = model.person(image, labels, kps)
    soft = model.transform(src, target)
    model.config = SPSModelConfig(target_parsing="hard")
    try:
        hard = model.transform(src, target)
        assert set(hard.target.parsing.unique().tolist()) <= {0.0, 1.0}
        assert torch.equal(hard.target.parsing.argmax(1), soft.probs.argmax(1))
        model.config = SPSModelConfig(target_margin=0.05)
        cut = model.transform(src, target)
    finally:
        model.config = SPSModelConfig()
    far = ~body_region(target, model.canvas, 0.05)[:, None].expand_as(cut.probs)
    assert (cut.probs[:, 0][far[:, 0]] == 1).all()
    near = ~far
    torch.testing.assert_close(cut.probs[near], soft.probs[near])


def test_config_is_validated():
    with pytest.raises(ValueError, match="target_parsing"):
        SPSModelConfig(target_parsing="medium")
    with pytest.raises(ValueError, match="target_margin"):
        SPSModelConfig(target_margin=1.0)
    with pytest.raises(ValueError, match="heatmap_sigma"):
        SPSModelConfig(heatmap_sigma=0)


def test_gradients_reach_both_generators(model):
    image, labels, kps, target = _batch(model, 1)
    model.train()
    try:
        out = model(model.person(image, labels, kps), target)
        out.image.mean().backward()
        for net in (model.semantic_generator, model.appearance_generator):
            assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
    finally:
        model.eval()
        model.zero_grad(set_to_none=True)


@torch.no_grad()
def test_flip_average_is_mirror_symmetric(model):
    """transform(flip_average=True) answers a mirrored pair with the mirrored layout; a single pass does not."""
    from sps.models.sps_model import _flip_keypoints, _flip_maps

    image, labels, kps, target = _batch(model)
    w = model.canvas[1]
    src = model.person(image, labels, kps)
    mirrored = model.person(image.flip(-1), _flip_maps(P.one_hot(labels)), _flip_keypoints(kps, w))
    averaged = model.transform(src, target, flip_average=True).logits
    torch.testing.assert_close(model.transform(mirrored, _flip_keypoints(target, w), flip_average=True).logits,
                               _flip_maps(averaged), rtol=1e-4, atol=1e-4)
    single = model.transform(src, target).logits
    assert not torch.allclose(model.transform(mirrored, _flip_keypoints(target, w)).logits, _flip_maps(single),
                              rtol=1e-3, atol=1e-3)
    assert torch.equal(_flip_keypoints(_flip_keypoints(kps, w), w), kps)
