"""The shipped weights give the same outputs as before a refactor: a small fingerprint of every task's outputs
on fixed synthetic inputs (no data from ../shared), compared within 1e-5.

Regenerate on purpose only (new weights): ``python tests/test_regression.py --write``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parent.parent
WEIGHTS = REPO / "weights"
FINGERPRINT = Path(__file__).resolve().parent / "data" / "fingerprint.json"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import synthetic_parsing, synthetic_pose  # noqa: E402


def _inputs() -> dict[str, np.ndarray]:
    """A 160 x 120 photo of smooth colour blobs, a pose, a parsing map, a second pose and photo."""
    rng = np.random.default_rng(7)
    h, w = 160, 120
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    photo = np.stack([127 + 100 * np.sin(xx / (9 + 5 * c) + yy / (13 + 3 * c) + c) for c in range(3)], -1)
    photo = np.clip(photo + rng.normal(0, 8, photo.shape), 0, 255).astype(np.uint8)
    kps = synthetic_pose(h, w)
    target = kps.copy()
    target[3:5, 0] -= 12  # right arm out
    target[3:5, 1] -= 20
    target[6:8, 0] += 10
    other = np.ascontiguousarray(photo[::-1, ::-1])
    return {"photo": photo, "kps": kps, "parsing": synthetic_parsing(h, w, kps), "target": target,
            "other": other}


def _pool(x: torch.Tensor | np.ndarray) -> list:
    """(C, H, W) or (H, W[, C]) -> a coarse 8 x 6 average grid per channel, as nested lists."""
    t = torch.as_tensor(np.asarray(x, np.float32) if not torch.is_tensor(x) else x.detach().float().cpu())
    if t.dim() == 2:
        t = t[None]
    elif t.shape[-1] in (3, 4) and t.dim() == 3 and t.shape[0] not in (3, 10):
        t = t.permute(2, 0, 1)
    return F.adaptive_avg_pool2d(t[None], (8, 6))[0].double().numpy().round(8).tolist()


def fingerprint(pipe) -> dict[str, list]:
    """Coarse statistics of every task's outputs (canvas tensors and photo-size images)."""
    x = _inputs()
    out: dict[str, list] = {}
    for name, res in (
        ("transfer", pipe(x["photo"], x["target"], source_keypoints=x["kps"], source_parsing=x["parsing"])),
        ("texture", pipe.transfer_texture(x["photo"], x["other"], person_keypoints=x["kps"],
                                          person_parsing=x["parsing"], clothes_keypoints=x["kps"],
                                          clothes_parsing=x["parsing"][::-1])),
        ("edit", pipe.edit(x["photo"], np.where(x["parsing"] == 3, 4, x["parsing"]), source_keypoints=x["kps"],
                           source_parsing=x["parsing"])),
    ):
        out[f"{name}/image"] = _pool(res.canvas["image"][0])
        out[f"{name}/probs"] = _pool(res.canvas["target_probs"][0])
        out[f"{name}/output"] = _pool(np.asarray(res.image))
        out[f"{name}/warped"] = _pool(np.asarray(res.warped))
        out[f"{name}/target_keypoints"] = np.asarray(res.target_keypoints, np.float64).round(4).tolist()
    kps, parsing = pipe.analyse(x["photo"])
    out["analyse/keypoints"] = np.asarray(kps, np.float64).round(4).tolist()
    out["analyse/parsing"] = np.bincount(parsing.ravel(), minlength=10).tolist()
    return out


def _load_shipped():
    from sps import SPSPipeline

    if not (WEIGHTS / "appearance_generator" / "model.safetensors").is_file():
        pytest.skip("shipped weights not present")
    torch.set_num_threads(1)
    return SPSPipeline.from_pretrained(WEIGHTS)


@pytest.mark.shipped_weights
def test_shipped_weights_fingerprint_unchanged():
    expected = json.loads(FINGERPRINT.read_text())
    got = fingerprint(_load_shipped())
    assert set(got) == set(expected)
    for key in expected:
        np.testing.assert_allclose(np.asarray(got[key], np.float64), np.asarray(expected[key], np.float64),
                                   atol=1e-5, rtol=0, err_msg=key)


if __name__ == "__main__" and "--write" in sys.argv:
    FINGERPRINT.parent.mkdir(parents=True, exist_ok=True)
    FINGERPRINT.write_text(json.dumps(fingerprint(_load_shipped())) + "\n")
    print(f"wrote {FINGERPRINT}")
