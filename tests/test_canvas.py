"""Canvas: the one way onto the model canvas and back, for images, label maps and keypoints."""
from __future__ import annotations

import numpy as np
import pytest

from sps import pose as K
from sps.canvas import IMAGE_PAD, LABEL_PAD, Canvas

from conftest import synthetic_parsing, synthetic_pose


@pytest.mark.parametrize("photo, expect", [((256, 176), (0, 4, 128, 88)), ((100, 300), (48, 0, 32, 96)),
                                           ((128, 96), (0, 0, 128, 96)), ((64, 48), (0, 0, 128, 96))])
def test_fit_places_the_photo_centred(photo, expect):
    cv = Canvas.fit(photo, (128, 96))
    assert cv.content == expect
    assert cv.is_identity == (photo == (128, 96))


def test_image_padding_and_round_trip():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (200, 100, 3), dtype=np.uint8)
    cv = Canvas.fit(photo.shape[:2], (128, 96))
    on = cv.image(photo)
    assert on.shape == (128, 96, 3) and on.dtype == np.uint8
    top, left, h, w = cv.content
    assert (on[:, :left] == IMAGE_PAD).all() and (on[:, left + w:] == IMAGE_PAD).all()
    back = np.asarray(cv.image_back(on))
    assert back.shape == photo.shape
    # a smooth photo survives the trip down and up closely
    smooth = np.repeat(np.linspace(0, 255, 200, dtype=np.uint8)[:, None, None], 100, 1).repeat(3, 2)
    err = np.abs(np.asarray(cv.image_back(cv.image(smooth))).astype(int) - smooth).mean()
    assert err < 2.0


def test_labels_and_keypoints_round_trip():
    h, w = 256, 176
    kps = synthetic_pose(h, w)
    labels = synthetic_parsing(h, w, kps).astype(np.int64)
    cv = Canvas.fit((h, w), (128, 96))
    on = cv.labels(labels)
    assert on.dtype == np.int64 and on.shape == (128, 96)
    assert (on[:, : cv.left] == LABEL_PAD).all()
    back = cv.labels_back(on)
    assert back.shape == (h, w) and (back == labels).mean() > 0.97
    np.testing.assert_allclose(cv.keypoints_back(cv.keypoints(kps)), kps, atol=1e-3)


def test_keypoints_outside_the_photo_become_missing():
    cv = Canvas.fit((256, 128), (128, 96))  # 64 px wide content, 16 px of padding each side
    kps = np.full((18, 2), 50.0, np.float32)
    kps[0] = (5, 50)  # on the left padding
    kps[1] = K.MISSING
    assert cv.outside(kps)[0] and not cv.outside(kps)[2]
    back = cv.keypoints_back(kps)
    assert (back[0] == K.MISSING).all() and (back[1] == K.MISSING).all() and (back[2] >= 0).all()


def test_clear_padding_and_crop():
    cv = Canvas.fit((256, 128), (128, 96))
    labels = np.full((128, 96), 3, np.int64)
    cleared = cv.clear_padding(labels)
    assert (cleared[:, : cv.left] == 0).all() and (cv.crop(cleared) == 3).all()
    with pytest.raises(ValueError, match="content"):
        cv.pad(np.zeros((10, 10)), 0)
    with pytest.raises(ValueError, match="positive"):
        Canvas.fit((0, 0), (128, 96))
