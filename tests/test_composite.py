"""The flow-composited appearance generator: warp fields, the composite head, the colour loss and the composite
rebuilt at the photo's own resolution."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from sps import losses as L
from sps.models import AppearanceGenerator, AppearanceGeneratorConfig
from sps.models import flow as W
from sps.parts import NUM_PARTS, part_masks_torch, part_transforms_torch
from sps.pipeline import SPSPipeline
from sps.pipeline.compose import paste

from conftest import synthetic_parsing, synthetic_pose

torch.set_num_threads(1)
WEIGHTS = "weights"


def _pose(h: int = 64, w: int = 48) -> torch.Tensor:
    return torch.from_numpy(synthetic_pose(h, w))[None].float()  # (1, 18, 2)


def test_part_selection_is_one_hot_everywhere_and_keeps_the_front_part():
    kps = _pose()
    masks = part_masks_torch(kps, (64, 48))
    theta, valid = part_transforms_torch(kps, kps, (64, 48))
    choice = W.part_selection(masks, valid)
    assert choice.shape == (1, NUM_PARTS, 64, 48)
    torch.testing.assert_close(choice.sum(1), torch.ones(1, 64, 48))  # every pixel follows exactly one part
    # where a forearm mask covers the torso, the forearm (drawn in front) is chosen
    both = (masks[0, 0] > 0.5) & (masks[0, 4] > 0.5)
    if bool(both.any()):
        assert bool((choice[0, 4][both] == 1).all())
    # a pixel inside exactly one part mask follows that part
    only_head = (masks[0, 1] > 0.5) & (masks[0].sum(0) == 1)
    assert bool((choice[0, 1][only_head] == 1).all())


def test_selected_grid_matches_affine_grid_of_the_chosen_part():
    kps = _pose()
    target = kps.clone()
    target[:, 3:5] += torch.tensor([5.0, -3.0])  # move the right arm
    theta, _ = part_transforms_torch(kps, target, (64, 48))
    choice = torch.zeros(1, NUM_PARTS, 64, 48)
    choice[:, 4] = 1  # everything follows the right forearm
    grid = W.selected_grid(theta, choice)
    expected = F.affine_grid(theta[:, 4], [1, 3, 64, 48], align_corners=False)
    torch.testing.assert_close(grid, expected, atol=1e-5, rtol=0)


def test_identity_pose_warp_reproduces_the_source():
    kps = _pose()
    theta, valid = part_transforms_torch(kps, kps, (64, 48))
    grid = W.selected_grid(theta, W.part_selection(part_masks_torch(kps, (64, 48)), valid))
    image = torch.rand(1, 3, 64, 48)
    torch.testing.assert_close(W.sample(image, grid), image, atol=1e-4, rtol=0)


def test_with_composite_keeps_the_weights_and_starts_at_the_prior():
    torch.manual_seed(0)
    plain = AppearanceGenerator(AppearanceGeneratorConfig.preset("tiny")).eval()
    comp = AppearanceGenerator.with_composite(plain).eval()
    assert comp.config.composite and AppearanceGenerator.with_composite(comp) is comp
    h, w = plain.config.canvas
    kps = torch.from_numpy(synthetic_pose(h, w))[None].float()
    par = torch.from_numpy(synthetic_parsing(h, w, kps[0].numpy())).long()[None]
    onehot = F.one_hot(par, 10).permute(0, 3, 1, 2).float()
    heat = torch.zeros(1, 18, h, w)
    image = torch.rand(1, 3, h, w) * 2 - 1
    args = (image, onehot, heat, onehot, heat, kps, kps)
    with torch.no_grad():
        out = comp(*args, details=True)
        torch.testing.assert_close(out.generated, plain(*args))  # the generator is untouched
    assert out.flow.abs().max() == 0  # zero-initialised head: no residual flow
    # same pose, same parsing: the warped labels agree inside the person, so the mask sits at sigmoid(+3) there
    person = (par[0] > 0) & (out.visible[0, 0] > 0.99)
    assert float(out.mask[0, 0][person].mean()) == pytest.approx(torch.sigmoid(torch.tensor(3.0)).item(), abs=0.02)
    assert float(out.mask[0, 0][par[0] == 0].max()) < 0.05  # nothing copied from the source's background
    torch.testing.assert_close(out.image, out.mask * out.warped + (1 - out.mask) * out.generated)


def test_colour_loss_sees_a_cast_and_is_zero_for_the_same_colours():
    h, w = 32, 24
    kps = synthetic_pose(h, w)
    par = torch.from_numpy(synthetic_parsing(h, w, kps)).long()[None]
    image = torch.rand(1, 3, h, w) * 2 - 1
    assert float(L.colour_loss(image, par, image, par)) == pytest.approx(0.0, abs=1e-6)
    cast = image + torch.tensor([0.06, -0.03, 0.06]).view(1, 3, 1, 1)  # magenta
    assert float(L.colour_loss(cast, par, image, par)) == pytest.approx(0.05, abs=1e-4)
    # a cast only in the background does not count (labels 1..9)
    bg = image + 0.3 * (par == 0)[:, None]
    assert float(L.colour_loss(bg, par, image, par)) == pytest.approx(0.0, abs=1e-6)


@pytest.fixture(scope="module")
def composite_pipeline() -> SPSPipeline:
    pipe = SPSPipeline.from_pretrained(WEIGHTS)
    g_a = AppearanceGenerator.with_composite(pipe.appearance_generator).eval()
    with torch.no_grad():  # no residual flow, mask = the warped source person: copy everything the source shows
        g_a.blend.weight.zero_()
        g_a.blend.bias.copy_(torch.tensor([0.0, 0.0, 30.0]))
    pipe.model.appearance_generator = g_a
    return pipe


def test_photo_resolution_composite_reproduces_the_photo_in_its_own_pose(composite_pipeline, data_root):
    """Same pose: the field is the identity, so the person is sampled back from the photo at full resolution,
    not upsampled from the 128 x 96 canvas."""
    path = sorted((data_root / "deepfashion" / "images").glob("*.jpg"))[0]
    photo = np.asarray(Image.open(path).convert("RGB"))
    kps, parsing = composite_pipeline.analyse(photo)
    res = composite_pipeline(photo, kps, source_keypoints=kps, source_parsing=parsing)
    out = np.asarray(res.image).astype(np.float32)
    core = F.max_pool2d(torch.from_numpy((parsing == 0).astype(np.float32))[None, None], 9, 1, 4)[0, 0].numpy() == 0
    assert out.shape == photo.shape and core.sum() > 1000
    sharp = np.abs(out - photo)[core].mean()
    # before: the same canvas composite upsampled from the canvas into the photo (the window pasted opaque)
    win = res.canvas["window"]
    blurred = paste(photo, win, res.canvas["image"][0], torch.ones(1, *composite_pipeline.canvas)).astype(np.float32)
    assert sharp < 2.0  # grey levels: the photo itself
    assert sharp < 0.25 * np.abs(blurred - photo)[core].mean()


def test_usable_parts_is_the_transforms_valid_flag():
    from sps.parts import usable_parts

    kps = _pose()
    target = kps.clone()
    kps[:, 4] = -1  # the source's right wrist missing: its forearm falls back to the mirrored one
    kps[:, [6, 7]] = -1  # both left arm joints missing: no transform for the left forearm
    theta, valid = part_transforms_torch(kps, target, (64, 48))
    assert not bool(valid.all())
    torch.testing.assert_close(usable_parts(theta), valid)


def test_limbs_come_from_the_photo_along_the_target_bones():
    """On the target's limb bones the blend mask rises to what the warp finds of the source person; elsewhere, and
    where the target parsing is background, it stays G_A's."""
    from sps.models.appearance import AppearanceOutput
    from sps.pipeline.compose import limb_cores
    from sps.pipeline.sharpen import limbs_from_photo

    h, w = 64, 48
    kps = synthetic_pose(h, w)
    cores = torch.from_numpy(limb_cores(kps, (h, w)))
    generated, warped = torch.zeros(1, 3, h, w), torch.ones(1, 3, h, w)
    mask = torch.full((1, 1, h, w), 0.2)
    visible = torch.full((1, 1, h, w), 0.9)
    visible[..., : h // 2, :] = 0.0  # the warp finds no source person in the upper half
    probs = torch.zeros(1, 10, h, w)
    probs[:, 3] = 1.0
    probs[:, :, :, : w // 4] = 0.0
    probs[:, 0, :, : w // 4] = 1.0  # the left quarter is background
    app = AppearanceOutput(image=W.composite(generated, warped, mask), generated=generated, warped=warped,
                           mask=mask, visible=visible)
    out = limbs_from_photo(app, probs, kps)
    lower, left = torch.zeros(h, w, dtype=torch.bool), torch.zeros(h, w, dtype=torch.bool)
    lower[h // 2:] = True
    left[:, : w // 4] = True
    raised = cores & lower & ~left
    assert raised.any() and torch.allclose(out.mask[0, 0][raised], torch.tensor(0.9))
    torch.testing.assert_close(out.mask[0, 0][~raised], mask[0, 0][~raised])
    torch.testing.assert_close(out.image, W.composite(generated, warped, out.mask))
    plain = AppearanceOutput(image=generated, generated=generated)
    assert limbs_from_photo(plain, probs, kps) is plain
