"""sps.pipeline.painted: what G_A paints takes the source's colours; unseen skin the tone of the visible skin."""
import torch

from sps import parsing as P
from sps.models.appearance import AppearanceOutput
import pytest

from sps.pipeline import PipelineSettings
from sps.pipeline.painted import LUMA, UNSEEN_SHADING, match_painted_colours, reference_colours, skin_tone

H, W = 32, 24
FACE, UPPER, PANTS, LEFT_LEG = 1, 3, 4, 8
SKIN, SHIRT = torch.tensor([0.6, 0.2, 0.0]), torch.tensor([-0.5, -0.5, 0.8])


def maps(labels: torch.Tensor) -> torch.Tensor:
    """(H, W) ids -> (1, 10, H, W) one-hot."""
    return P.one_hot(labels[None]).float()


def scene():
    """A source showing a face and a shirt; a target that adds a left leg and pants, and a sleeve of shirt.
    G_A's generated image is a dark noisy guess; its blend mask copies the face and the torso's shirt."""
    src = torch.zeros(H, W, dtype=torch.long)
    src[2:8, 8:16] = FACE
    src[8:20, 6:18] = UPPER
    source = torch.zeros(1, 3, H, W)
    source[:, :, 2:8, 8:16] = SKIN[:, None, None]
    source[:, :, 8:20, 6:18] = SHIRT[:, None, None]
    tgt = src.clone()
    tgt[8:16, 18:22] = UPPER  # a new sleeve
    tgt[20:30, 8:12] = LEFT_LEG
    tgt[20:30, 12:16] = PANTS
    generated = torch.rand(1, 3, H, W) * 0.2 - 0.9
    mask = torch.zeros(1, 1, H, W)
    mask[..., 2:20, 6:18] = 1  # copied: the face and the torso
    warped = source.clone()
    app = AppearanceOutput(image=mask * warped + (1 - mask) * generated, generated=generated, warped=warped,
                           mask=mask)
    return source, maps(src), maps(tgt), app


def luma(image: torch.Tensor) -> torch.Tensor:
    """(3, N) -> (N,) luminance."""
    return (torch.tensor(LUMA)[:, None] * image).sum(0)


def test_skin_tone_is_the_mean_of_the_visible_skin():
    source, src_maps, _, _ = scene()
    assert torch.allclose(skin_tone(source, src_maps), SKIN[None], atol=1e-5)
    assert skin_tone(source, maps(torch.zeros(H, W, dtype=torch.long))) is None


def test_reference_colours():
    source, src_maps, tgt_maps, _ = scene()
    refs = reference_colours(source, src_maps, tgt_maps)
    assert set(refs) == {FACE, UPPER, 6, 7, LEFT_LEG, 9}  # shown labels and every skin label; not the pants
    assert torch.allclose(refs[UPPER][0], SHIRT[None], atol=1e-5) and refs[UPPER][1:] == (1.0, 1.0)
    assert torch.allclose(refs[LEFT_LEG][0], SKIN[None], atol=1e-5) and refs[LEFT_LEG][1:] == (UNSEEN_SHADING, 0.0)


def test_painted_regions_move_to_their_reference_and_copied_pixels_stay():
    source, src_maps, tgt_maps, app = scene()
    out = match_painted_colours(app, source, src_maps, tgt_maps)
    leg, sleeve, pants = (tgt_maps[0, k].bool() for k in (LEFT_LEG, 3, PANTS))
    sleeve &= app.mask[0, 0] == 0
    before, after = app.generated[0][:, leg], out.generated[0][:, leg]  # unseen skin
    assert torch.allclose(after.mean(1), SKIN, atol=1e-4)  # the tone of the visible skin
    shade = UNSEEN_SHADING * (luma(before) - luma(before).mean())  # part of G_A's light and dark, none of its hues
    assert torch.allclose(after - after.mean(1, keepdim=True), shade.expand(3, -1), atol=1e-4)
    before, after = app.generated[0][:, sleeve], out.generated[0][:, sleeve]  # new cloth of a shown label
    assert torch.allclose(after, before - before.mean(1, keepdim=True) + SHIRT[:, None], atol=1e-4)  # mean shift
    assert torch.equal(out.generated[0][:, pants], app.generated[0][:, pants])  # no reference: as painted
    copied = app.mask[0, 0] == 1
    assert torch.equal(out.image[0][:, copied], app.image[0][:, copied])  # the composite's copy is untouched
    assert torch.allclose(out.image, app.mask * app.warped + (1 - app.mask) * out.generated)
    assert not torch.equal(app.generated, out.generated) and app.generated.max() < -0.6  # input not modified


def test_nothing_to_match():
    source, src_maps, tgt_maps, app = scene()
    no_person = maps(torch.zeros(H, W, dtype=torch.long))
    assert match_painted_colours(app, source, no_person, no_person) is app
    plain = AppearanceOutput(image=app.generated, generated=app.generated)  # no composite: all of it is painted
    out = match_painted_colours(plain, source, src_maps, tgt_maps)
    assert torch.equal(out.image, out.generated)
    assert torch.allclose(out.generated[0][:, tgt_maps[0, UPPER].bool()].mean(1), SHIRT, atol=1e-4)



def test_the_setting_is_checked():
    assert PipelineSettings().match_colours == "edits"
    with pytest.raises(ValueError, match="match_colours"):
        PipelineSettings(match_colours=True)
