"""Networks at the tiny preset: shapes, gradients, deformable skips, save/load, presets, face crops."""
from __future__ import annotations

import json
import math

import pytest
import torch

from sps.errors import WeightsError
from sps.models import (
    AppearanceGenerator,
    AppearanceGeneratorConfig,
    DeformableSkip,
    DiscriminatorConfig,
    FaceDiscriminator,
    HumanParser,
    HumanParserConfig,
    ParsingDiscriminator,
    PatchDiscriminator,
    PoseEstimator,
    PoseEstimatorConfig,
    SemanticGenerator,
    SemanticGeneratorConfig,
    face_crops,
)
from sps.models.config import PRESET_NAMES
from sps.parts import OUTSIDE_THETA, part_masks_torch, warp_parts
from sps.pose import heatmaps_torch

torch.set_num_threads(1)
H, W = 32, 24
REL_POSE = [(0.50, 0.12), (0.50, 0.25), (0.35, 0.26), (0.30, 0.42), (0.28, 0.56), (0.65, 0.26), (0.70, 0.42),
            (0.72, 0.56), (0.40, 0.55), (0.40, 0.74), (0.40, 0.93), (0.60, 0.55), (0.60, 0.74), (0.60, 0.93),
            (0.47, 0.10), (0.53, 0.10), (0.44, 0.11), (0.56, 0.11)]
CONFIGS = (PoseEstimatorConfig, HumanParserConfig, SemanticGeneratorConfig, AppearanceGeneratorConfig, DiscriminatorConfig)


def pose(h: int = H, w: int = W, b: int = 2) -> torch.Tensor:
    kps = torch.tensor(REL_POSE) * torch.tensor([w, h])
    return kps[None].repeat(b, 1, 1)


@pytest.fixture
def batch():
    torch.manual_seed(0)
    b = 2
    src, tgt = pose(), pose()
    tgt[:, 4] = torch.tensor([0.2 * W, 0.15 * H])  # right wrist raised
    return dict(img=torch.rand(b, 3, H, W) * 2 - 1, par=torch.softmax(torch.randn(b, 10, H, W), 1),
                tpar=torch.softmax(torch.randn(b, 10, H, W), 1), hm=heatmaps_torch(src, (H, W)),
                thm=heatmaps_torch(tgt, (H, W)), kps=src, tkps=tgt)


def run_all(nets: dict, d: dict, alpha: float = 0.5) -> dict:
    out = {
        "pose": nets["pose"](d["img"]),
        "parser": nets["parser"](d["img"]),
        "gs": nets["gs"](d["par"], d["hm"], d["thm"], src_kps=d["kps"], tgt_kps=d["tkps"]),
        "ga": nets["ga"](d["img"], d["par"], d["hm"], d["tpar"], d["thm"], d["kps"], d["tkps"], alpha=alpha),
        "ga_local": nets["ga_local"](d["img"], d["par"], d["hm"], d["tpar"], d["thm"], d["kps"], d["tkps"], alpha=alpha),
        "dpatch": nets["dpatch"](d["img"], d["par"]),
        "dpars": nets["dpars"](d["par"], d["hm"]),
    }
    crops, _ = face_crops(d["img"], d["kps"], size=nets["dface"].config.face_size)
    out["dface"] = nets["dface"](crops)
    return out


def tiny_nets(spectral: bool = False) -> dict:
    torch.manual_seed(0)
    dcfg = DiscriminatorConfig.preset("tiny", spectral_norm=spectral)
    return {
        "pose": PoseEstimator(PoseEstimatorConfig.preset("tiny")),
        "parser": HumanParser(HumanParserConfig.preset("tiny")),
        "gs": SemanticGenerator(SemanticGeneratorConfig.preset("tiny")),
        "ga": AppearanceGenerator(AppearanceGeneratorConfig.preset("tiny")),
        "ga_local": AppearanceGenerator(AppearanceGeneratorConfig.preset("tiny", canvas=(H, W), local_enhancer=True,
                                                                         local_widths=(4, 8), local_res_blocks=1)),
        "dpatch": PatchDiscriminator(dcfg), "dpars": ParsingDiscriminator(dcfg), "dface": FaceDiscriminator(dcfg),
    }


def test_shapes_and_dtypes(batch):
    nets = tiny_nets()
    for n in nets.values():
        n.eval()
    with torch.no_grad():
        out = run_all(nets, batch)
    assert out["pose"].shape == (2, 18, H, W)
    assert out["parser"].shape == (2, 10, H, W)
    assert out["gs"].shape == (2, 10, H, W)
    for k in ("ga", "ga_local"):
        assert out[k].shape == (2, 3, H, W)
        assert out[k].abs().max() <= 1.0
    for k in ("dpatch", "dpars", "dface"):
        assert out[k].dim() == 4 and out[k].shape[:2] == (2, 1) and min(out[k].shape[-2:]) >= 1
    for v in out.values():
        assert v.dtype == torch.float32 and torch.isfinite(v).all()
    # G_S keeps the three-argument signature of the common API (warped prior then zero)
    assert nets["gs"](batch["par"], batch["hm"], batch["thm"]).shape == (2, 10, H, W)


@pytest.mark.parametrize("spectral", [False, True])
def test_gradients_reach_every_parameter(batch, spectral):
    nets = tiny_nets(spectral)
    out = run_all(nets, batch, alpha=0.5)
    sum(v.float().sum() for v in out.values()).backward()
    for name, net in nets.items():
        for pname, p in net.named_parameters():
            assert p.grad is not None, f"{name}.{pname} got no gradient"
            assert torch.isfinite(p.grad).all(), f"{name}.{pname} has a non-finite gradient"


def test_local_enhancer_fade_in(batch):
    net = AppearanceGenerator(AppearanceGeneratorConfig.preset("tiny", local_enhancer=True, local_widths=(4, 8))).eval()
    args = (batch["img"], batch["par"], batch["hm"], batch["tpar"], batch["thm"], batch["kps"], batch["tkps"])
    with torch.no_grad():
        g, l_, mid = net(*args, alpha=0.0), net(*args, alpha=1.0), net(*args, alpha=0.25)
    torch.testing.assert_close(mid, 0.75 * g + 0.25 * l_)
    assert not torch.allclose(g, l_)


def test_deformable_skip_identity_reproduces_features():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 16, 12)
    identity = torch.tensor([[1.0, 0, 0], [0, 1, 0]]).expand(2, 10, 2, 3)
    full = torch.ones(2, 10, 32, 24)  # canvas-size masks, resized inside
    warped = warp_parts(x, identity, full)
    assert warped.shape == (2, 10, 5, 16, 12)
    torch.testing.assert_close(warped[:, 3], x, atol=1e-5, rtol=1e-5)
    skip = DeformableSkip("max")
    tgt = torch.randn(2, 4, 16, 12)
    out = skip(x, tgt, identity, full)
    torch.testing.assert_close(out[:, :5], x, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out[:, 5:], tgt)
    # a part with the "outside" transform contributes nothing; masks restrict where parts land
    theta = OUTSIDE_THETA.expand(2, 10, 2, 3).clone()
    theta[:, 0] = torch.tensor([[1.0, 0, 0], [0, 1, 0]])
    masks = torch.zeros(2, 10, 16, 12)
    masks[:, 0, :8] = 1
    y = skip.warp(x.abs() + 1, theta, masks)
    torch.testing.assert_close(y[..., :8, :], x[..., :8, :].abs() + 1, atol=1e-5, rtol=1e-5)
    assert y[..., 8:, :].abs().max() == 0


def test_deformable_skip_moves_a_part():
    """A translated pose moves the features by the same offset inside the target part masks."""
    h, w = 32, 24
    src = pose(h, w, 1)
    tgt = src + torch.tensor([4.0, 0.0])  # everything 4 px to the right
    x = torch.zeros(1, 1, h, w)
    x[0, 0, 10:20, 8:12] = 1.0
    from sps.parts import part_transforms_torch

    theta, _ = part_transforms_torch(src, tgt, (h, w))
    masks = part_masks_torch(tgt, (h, w))
    y = DeformableSkip().warp(x, theta, masks)
    inside = masks.amax(1, keepdim=True) > 0
    shifted = torch.roll(x, 4, -1)
    assert torch.allclose(y[inside], shifted[inside], atol=1e-4)


def test_pose_decode_recovers_keypoints():
    kps = pose(64, 48, 1) + torch.tensor([0.3, -0.2])
    kps[0, 7] = -1  # missing joint
    net = PoseEstimator(PoseEstimatorConfig.preset("tiny", canvas=(64, 48)))
    dec = net.decode(heatmaps_torch(kps, (64, 48)), threshold=0.2)
    assert dec.shape == (1, 18, 2)
    assert (dec[0, 7] == -1).all()
    vis = torch.arange(18) != 7
    err = (dec[0, vis] - kps[0, vis]).abs().max()
    assert err < 0.35, err  # sub-pixel: better than the integer argmax (up to 0.5)


def test_face_crops():
    h, w = 64, 48
    kps = pose(h, w, 2)
    img = torch.zeros(2, 3, h, w)
    face = kps[0, [0, 14, 15, 16, 17]].mean(0)
    y, x = int(face[1]), int(face[0])
    img[:, :, y - 2:y + 3, x - 2:x + 3] = 1.0  # a bright patch on the face
    kps[1, [0, 14, 15, 16, 17]] = -1  # no face in the second image
    crops, ok = face_crops(img, kps, size=16)
    assert crops.shape == (2, 3, 16, 16) and ok.tolist() == [True, False]
    c = crops[0, 0]
    assert c[6:10, 6:10].mean() > 0.5 and c[:3].mean() < 0.1  # patch at the centre of the crop


def test_presets():
    ga = AppearanceGeneratorConfig.preset("paper")
    assert ga.enc_widths == (64, 128, 256, 512, 512, 512)
    assert ga.dec_widths == (512, 512, 512, 256, 128, 3)
    assert ga.canvas == (256, 192) and ga.local_enhancer and ga.dropout > 0 and ga.dropout_blocks > 0
    for cls in CONFIGS:
        assert cls.preset("cpu").canvas == (128, 96)
        assert cls().canvas == (128, 96)
        assert cls.preset("paper").canvas == (256, 192)
        for name in PRESET_NAMES:
            c = cls.preset(name)
            assert cls.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    with pytest.raises(ValueError):
        AppearanceGeneratorConfig.preset("huge")
    with pytest.raises(ValueError):
        AppearanceGeneratorConfig(enc_widths=(8, 16), dec_widths=(8, 8))


def test_paper_generator_widths():
    net = AppearanceGenerator(AppearanceGeneratorConfig.preset("paper"))
    widths = [blk[0].out_channels for blk in net.globalnet.app_enc]
    assert widths == [64, 128, 256, 512, 512, 512]
    dec = [blk[0].out_channels for blk in net.globalnet.dec] + [net.globalnet.out.out_channels]
    assert dec == [512, 512, 512, 256, 128, 3]
    assert any(isinstance(m, torch.nn.Dropout) for m in net.globalnet.dec[0].modules())


@pytest.mark.parametrize("cls,cfg_cls", [(AppearanceGenerator, AppearanceGeneratorConfig),
                                         (SemanticGenerator, SemanticGeneratorConfig),
                                         (PoseEstimator, PoseEstimatorConfig), (PatchDiscriminator, DiscriminatorConfig)])
def test_save_load_round_trip(tmp_path, batch, cls, cfg_cls):
    torch.manual_seed(1)
    net = cls(cfg_cls.preset("tiny")).eval()
    # perturb norms so affine params are not at their defaults
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.01 * torch.randn_like(p))

    def fwd(m):
        if cls is AppearanceGenerator:
            return m(batch["img"], batch["par"], batch["hm"], batch["tpar"], batch["thm"], batch["kps"], batch["tkps"])
        if cls is SemanticGenerator:
            return m(batch["par"], batch["hm"], batch["thm"], src_kps=batch["kps"], tgt_kps=batch["tkps"])
        if cls is PatchDiscriminator:
            return m(batch["img"], batch["par"])
        return m(batch["img"])

    net.save_pretrained(tmp_path / "fp32")
    assert {"config.json", "model.safetensors"} <= {p.name for p in (tmp_path / "fp32").iterdir()}
    cfg = json.loads((tmp_path / "fp32" / "config.json").read_text())
    assert cfg["model_type"] == cls.__name__ and cfg["canvas"] == [32, 24]
    loaded = cls.from_pretrained(tmp_path / "fp32")
    assert loaded.config == net.config and not loaded.training
    with torch.no_grad():
        torch.testing.assert_close(fwd(loaded), fwd(net), rtol=0, atol=0)

    net.save_pretrained(tmp_path / "fp16", dtype=torch.float16)
    size32 = (tmp_path / "fp32" / "model.safetensors").stat().st_size
    size16 = (tmp_path / "fp16" / "model.safetensors").stat().st_size
    assert size16 < 0.6 * size32
    half = cls.from_pretrained(tmp_path / "fp16")
    assert all(p.dtype == torch.float32 for p in half.parameters())
    with torch.no_grad():
        torch.testing.assert_close(fwd(half), fwd(net), rtol=2e-2, atol=2e-2)


def test_weights_errors(tmp_path):
    net = HumanParser(HumanParserConfig.preset("tiny"))
    good = tmp_path / "good"
    net.save_pretrained(good)

    with pytest.raises(WeightsError, match="config.json"):
        HumanParser.from_pretrained(tmp_path)  # a folder without config.json

    trunc = tmp_path / "trunc"
    net.save_pretrained(trunc)
    data = (trunc / "model.safetensors").read_bytes()
    (trunc / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="model.safetensors"):
        HumanParser.from_pretrained(trunc)
    (trunc / "model.safetensors").write_bytes(b"\x00" * 5)
    with pytest.raises(WeightsError, match="model.safetensors"):
        HumanParser.from_pretrained(trunc)

    wrong = tmp_path / "wrong"
    net.save_pretrained(wrong)
    cfg = json.loads((wrong / "config.json").read_text())
    cfg["widths"][1] *= 2
    (wrong / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(WeightsError, match="do not match"):
        HumanParser.from_pretrained(wrong)

    cfg["widths"][1] //= 2
    cfg["bogus"] = 1
    (wrong / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(WeightsError, match="config.json"):
        HumanParser.from_pretrained(wrong)
    (wrong / "config.json").write_text("{not json")
    with pytest.raises(WeightsError, match="config.json"):
        HumanParser.from_pretrained(wrong)

    with pytest.raises(WeightsError, match="HumanParser"):  # another network's folder
        PoseEstimator.from_pretrained(good)

    missing = tmp_path / "missing"
    net.save_pretrained(missing)
    (missing / "model.safetensors").unlink()
    with pytest.raises(WeightsError, match="model.safetensors"):
        HumanParser.from_pretrained(missing)


def test_cpu_preset_flops_budget():
    """The shipped preset stays small: the 4-network chain is < 6 GFLOPs at 128 x 96."""
    from torch.utils.flop_counter import FlopCounterMode

    from sps.bench.models import build

    runs, params = build("cpu")
    with torch.inference_mode(), FlopCounterMode(display=False) as fc:
        runs["chain (parser+pose+G_S+G_A)"]()
    assert fc.get_total_flops() / 1e9 < 6.0
    assert params["chain (parser+pose+G_S+G_A)"] < 12e6
    assert math.isfinite(fc.get_total_flops())


def test_semantic_correction_adds_the_sharp_prior_and_starts_from_the_plain_net(batch, tmp_path):
    torch.manual_seed(2)
    plain = SemanticGenerator(SemanticGeneratorConfig.preset("tiny", out_stride=2)).eval()
    one_hot = torch.nn.functional.one_hot(batch["par"].argmax(1), 10).permute(0, 3, 1, 2).float()
    args = (one_hot, batch["hm"], batch["thm"])
    kw = dict(src_kps=batch["kps"], tgt_kps=batch["tkps"])
    corr = plain.with_correction().eval()
    assert corr.config.correction and not plain.config.correction and corr.with_correction() is corr
    with torch.no_grad():
        # gain 0: the plain net's U-Net weights; only the prior channels' resolution differs
        assert all(torch.equal(a, b) for a, b in zip(corr.net.state_dict().values(), plain.net.state_dict().values()))
        corr.prior_gain.fill_(1.0)  # a gain of GAIN_SCALE in the logits: the prior's labels win where it has mass
        logits = corr(*args, **kw)
        prior = SemanticGenerator.warp_prior(one_hot, batch["kps"], batch["tkps"], full=True)
    covered = prior.amax(1) > 0.9
    assert covered.any()
    assert (logits.argmax(1)[covered] == prior.argmax(1)[covered]).float().mean() > 0.99
    corr.save_pretrained(tmp_path / "corr")
    again = SemanticGenerator.from_pretrained(tmp_path / "corr")
    with torch.no_grad():
        torch.testing.assert_close(again(*args, **kw), logits)
    with pytest.raises(ValueError, match="warp_prior"):
        SemanticGeneratorConfig(correction=True, warp_prior=False)
