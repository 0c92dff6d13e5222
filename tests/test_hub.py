"""Hub publishing (HfApi mocked) and offline loading from a hand-built Hub cache."""
from __future__ import annotations

import shutil
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch

from sps import SPSPipeline
from sps import hub
from sps.errors import WeightsError

from fixtures_pipeline import person_pose

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parent.parent
COMPONENT_FILES = {f"{sub}/{n}" for sub in ("pose_estimator", "human_parser", "semantic_generator",
                                            "appearance_generator")
                   for n in ("config.json", "model.safetensors", "README.md")}


@pytest.fixture
def pipeline_folder(random_pipeline_dir, tmp_path) -> Path:
    folder = tmp_path / "weights"
    shutil.copytree(random_pipeline_dir, folder)
    card = REPO / "weights" / "README.md"
    if card.is_file():  # publish the repository's real pipeline card
        shutil.copy(card, folder / "README.md")
    return folder


def test_push_uploads_folder_with_cards(pipeline_folder):
    uploaded: dict[str, bytes] = {}

    def fake_upload(**kw):
        root = Path(kw["folder_path"])
        for p in root.rglob("*"):
            if p.is_file():
                uploaded[p.relative_to(root).as_posix()] = p.read_bytes()
        return mock.Mock()

    api = mock.MagicMock()
    api.create_repo.return_value = mock.Mock(url="https://huggingface.co/org/sps-test")
    api.upload_folder.side_effect = fake_upload
    with mock.patch("huggingface_hub.HfApi", return_value=api) as cls:
        rc = hub.main(["push", "--repo-id", "org/sps-test", "--private", "--folder", str(pipeline_folder)])
    assert rc == 0
    cls.assert_called_once()
    api.create_repo.assert_called_once_with(repo_id="org/sps-test", repo_type="model", private=True, exist_ok=True)
    kw = api.upload_folder.call_args.kwargs
    assert kw["repo_id"] == "org/sps-test" and kw["repo_type"] == "model"
    assert Path(kw["folder_path"]) == pipeline_folder
    assert COMPONENT_FILES | {"README.md", "pipeline.json"} <= set(uploaded)
    card = uploaded["README.md"].decode()
    assert card.startswith("---") and "license:" in card and "library_name:" in card
    assert "SPSPipeline.from_pretrained" in card or "test pipeline" in card
    for sub in ("pose_estimator", "appearance_generator"):
        assert uploaded[f"{sub}/README.md"].strip()
    assert set(hub.check_upload_folder(pipeline_folder)) >= COMPONENT_FILES


def test_push_refuses_incomplete_folder(pipeline_folder, capsys):
    (pipeline_folder / "human_parser" / "model.safetensors").unlink()
    api = mock.MagicMock()
    with mock.patch("huggingface_hub.HfApi", return_value=api):
        rc = hub.main(["push", "--repo-id", "org/x", "--folder", str(pipeline_folder)])
    assert rc == 2 and "human_parser/model.safetensors" in capsys.readouterr().err
    api.create_repo.assert_not_called()
    api.upload_folder.assert_not_called()


def test_check_defaults_to_weights_in_the_current_directory(pipeline_folder, monkeypatch, capsys):
    monkeypatch.chdir(pipeline_folder.parent)  # pipeline_folder is ./weights
    assert hub.main(["check"]) == 0
    listed = set(capsys.readouterr().out.split())
    assert COMPONENT_FILES | {"README.md", "pipeline.json"} <= listed
    monkeypatch.chdir(pipeline_folder)  # no ./weights here
    assert hub.main(["check"]) == 2
    assert "weights: pipeline folder not found" in capsys.readouterr().err


def _fill_cache(hf_home: Path, repo_id: str, folder: Path, sha: str = "0123456789abcdef0123456789abcdef01234567"):
    """The Hub cache layout by hand: hub/models--ORG--NAME/{refs/main, snapshots/<sha>/...}."""
    repo_dir = hf_home / "hub" / ("models--" + repo_id.replace("/", "--"))
    (repo_dir / "refs").mkdir(parents=True)
    (repo_dir / "refs" / "main").write_text(sha)
    shutil.copytree(folder, repo_dir / "snapshots" / sha)
    return repo_dir / "snapshots" / sha


def test_from_pretrained_offline_from_hub_cache(pipeline_folder, tmp_path, monkeypatch):
    import huggingface_hub.constants as hfc

    hf_home = tmp_path / "hf_home"
    snap = _fill_cache(hf_home, "org/sps-test", pipeline_folder)
    monkeypatch.setenv("HF_HOME", str(hf_home))
    monkeypatch.setenv("HF_HUB_CACHE", str(hf_home / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hfc, "HF_HUB_OFFLINE", True)
    monkeypatch.chdir(tmp_path)  # "org/sps-test" is not a local folder
    # any attempt to reach the network fails loudly
    with mock.patch("requests.Session.request", side_effect=AssertionError("network used")):
        pipe = SPSPipeline.from_pretrained("org/sps-test")
        local = SPSPipeline.from_pretrained(snap)
        kps = person_pose(64, 48)
        img = np.random.default_rng(0).integers(0, 256, (64, 48, 3), dtype=np.uint8)
        a = pipe(img, kps, source_keypoints=kps)
        b = local(img, kps, source_keypoints=kps)
        np.testing.assert_array_equal(np.asarray(a.image), np.asarray(b.image))
        with pytest.raises(WeightsError, match="offline"):
            SPSPipeline.from_pretrained("org/not-cached")
