"""The public hooks of G_A that the appearance-generator notebook uses instead of reaching into submodules:
``AppearanceGenerator.appearance_features`` (the appearance encoder's maps) and ``skip_features`` (those maps moved
onto the target pose by the deformable skips). Each must be exactly what ``forward`` computes."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import synthetic_parsing, synthetic_pose

from sps.models import AppearanceGenerator, AppearanceGeneratorConfig
from sps.pose import heatmaps_torch

torch.set_num_threads(1)

CONFIGS = {  # name: changes to the tiny preset
    "plain": {},
    "composite": {"composite": True},
    "local enhancer": {"local_enhancer": True, "local_widths": (8, 8), "local_res_blocks": 1},
    "no parsing": {"use_parsing": False},
}


def _net(changes: dict) -> AppearanceGenerator:
    torch.manual_seed(0)
    net = AppearanceGenerator(AppearanceGeneratorConfig.preset("tiny", **changes)).eval()
    if net.blend is not None:  # a head that is not zero, so the composite differs from the generated image
        torch.nn.init.normal_(net.blend.weight, std=0.1)
    return net


def _inputs(net: AppearanceGenerator) -> dict[str, torch.Tensor]:
    """A source (random photo, synthetic parsing and pose) and a target pose with the right arm raised."""
    h, w = net.config.canvas
    k_s = torch.from_numpy(synthetic_pose(h, w))[None].float()  # (1, 18, 2)
    k_t = k_s.clone()
    k_t[:, 3:5] += torch.tensor([2.0, -4.0])
    par = torch.from_numpy(synthetic_parsing(h, w, k_s[0].numpy())).long()[None]
    onehot = F.one_hot(par, 10).permute(0, 3, 1, 2).float()  # (1, 10, H, W)
    torch.manual_seed(1)
    return {"src_image": torch.rand(1, 3, h, w) * 2 - 1, "src_parsing": onehot,
            "src_pose": heatmaps_torch(k_s, (h, w)), "tgt_parsing": onehot, "tgt_pose": heatmaps_torch(k_t, (h, w)),
            "src_kps": k_s, "tgt_kps": k_t}


def _hooks(net: AppearanceGenerator, x: dict[str, torch.Tensor], **changes: torch.Tensor) -> tuple[list, list]:
    """(appearance_features, skip_features) of the inputs ``x``, some of them replaced by ``changes``."""
    x = {**x, **changes}
    with torch.no_grad():
        return (net.appearance_features(x["src_image"], x["src_parsing"], x["src_pose"]),
                net.skip_features(x["src_image"], x["src_parsing"], x["src_pose"], x["src_kps"], x["tgt_kps"]))


def _recorded_forward(net: AppearanceGenerator, x: dict[str, torch.Tensor]) -> tuple[list, list]:
    """Run ``forward`` and record what its global generator's appearance encoder and deformable skips produced."""
    enc, skips = [], []
    hooks = [block.register_forward_hook(lambda m, i, o: enc.append(o)) for block in net.globalnet.app_enc]
    hooks.append(net.globalnet.skip.register_forward_hook(lambda m, i, o: skips.append(o)))
    try:
        with torch.no_grad():
            net(**x)
    finally:
        for h in hooks:
            h.remove()
    return enc, skips


@pytest.mark.parametrize("name", list(CONFIGS))
def test_hooks_return_what_forward_computes(name):
    net = _net(CONFIGS[name])
    x = _inputs(net)
    feats, warped = _hooks(net, x)
    enc, skips = _recorded_forward(net, x)
    h, w = net.config.canvas
    if net.config.local_enhancer:  # the global generator reads the canvas at half resolution
        h, w = h // 2, w // 2
    assert len(feats) == len(warped) == len(net.config.enc_widths) == len(enc) == len(skips)
    for i, (f, wf, ref, skip) in enumerate(zip(feats, warped, enc, skips)):
        # appearance_features: the encoder's map of level i (stride 2^(i+1)), exactly as forward computed it
        assert f.shape == wf.shape == (1, net.config.enc_widths[i], -(-h // 2 ** (i + 1)), -(-w // 2 ** (i + 1)))
        torch.testing.assert_close(f, ref, rtol=0, atol=0)
        # skip_features: forward concatenates [moved appearance features, target features]; the first half
        torch.testing.assert_close(wf, skip[:, : f.shape[1]], rtol=0, atol=0)
        assert not torch.equal(wf, f)  # the target pose differs: the features moved


def test_skip_features_follow_the_target_pose_not_the_source():
    """Only the target keypoints decide where the moved features lie: outside every target part they are zero."""
    net = _net({})
    x = _inputs(net)
    far = x["tgt_kps"].clone()
    far[..., 0] -= 6  # the whole target person shifted left
    near = _hooks(net, x)[1][0]
    moved = _hooks(net, x, tgt_kps=far)[1][0]
    assert not torch.allclose(near, moved)
    # the rightmost feature columns lie outside the shifted target's parts: nothing is copied there
    assert float(moved[..., -2:].abs().max()) == 0.0
    assert float(near.abs().sum()) > 0


def test_no_parsing_hooks_ignore_the_parsing_maps():
    net = _net({"use_parsing": False})
    x = _inputs(net)
    a = _hooks(net, x)
    b = _hooks(net, x, src_parsing=torch.roll(x["src_parsing"], 3, dims=-1))
    for fa, fb in zip(a[0] + a[1], b[0] + b[1]):
        torch.testing.assert_close(fa, fb, rtol=0, atol=0)
