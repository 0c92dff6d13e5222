"""Finding and loading a pipeline folder: an explicit path, ``$SPS_WEIGHTS``, or a Hub repo id (through the cache)."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from ..errors import WeightsError

ENV_VAR = "SPS_WEIGHTS"
# Sub-folders of a pipeline folder, one per network (each: config.json, model.safetensors, README.md).
COMPONENTS: dict[str, str] = {
    "pose_estimator": "PoseEstimator",
    "human_parser": "HumanParser",
    "semantic_generator": "SemanticGenerator",
    "appearance_generator": "AppearanceGenerator",
}


def _looks_like_repo_id(s: str) -> bool:
    parts = s.split("/")
    return len(parts) == 2 and all(parts) and not s.startswith((".", "/", "~")) and "\\" not in s


def hub_cache_dir() -> str | None:
    """The Hub cache as the environment says now (HF_HUB_CACHE, else HF_HOME/hub), read at call time so that a
    process that sets them after importing huggingface_hub is honoured; None -> huggingface_hub's default."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return str(Path(os.environ["HF_HOME"]) / "hub")
    return None


def _offline() -> bool:
    from huggingface_hub import constants as hf_constants

    env = os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")
    return bool(hf_constants.HF_HUB_OFFLINE) or env


def resolve_weights(path_or_repo_id: str | os.PathLike | None, *, local_files_only: bool | None = None,
                    revision: str | None = None) -> Path:
    """A local pipeline folder, or the Hub cache snapshot of a repo id (downloaded unless offline).

    ``None`` means ``$SPS_WEIGHTS``; there is no guess from where the package happens to be installed.
    """
    if path_or_repo_id is None:
        if not os.environ.get(ENV_VAR):
            raise WeightsError(f"no weights given: pass a pipeline folder (e.g. 'weights' in a clone of the "
                               f"repository) or a Hub repo id (ORG/NAME), or set ${ENV_VAR}")
        path_or_repo_id = os.environ[ENV_VAR]
    p = Path(path_or_repo_id).expanduser()
    if p.is_dir():
        return p
    s = str(path_or_repo_id)
    if not _looks_like_repo_id(s):
        raise WeightsError(f"{s}: not a folder and not a Hub repo id (ORG/NAME)")
    from huggingface_hub import snapshot_download

    local = _offline() if local_files_only is None else (local_files_only or _offline())
    try:
        return Path(snapshot_download(repo_id=s, revision=revision, local_files_only=local, cache_dir=hub_cache_dir()))
    except Exception as exc:  # LocalEntryNotFoundError, RepositoryNotFoundError, connection errors
        how = "in the local Hub cache (offline)" if local else "on the Hub"
        raise WeightsError(f"{s}: cannot find the pipeline {how}: {type(exc).__name__}: {exc}") from exc


def load_networks(folder: Path) -> dict[str, torch.nn.Module]:
    """The four networks of a pipeline folder, by sub-folder name; WeightsError names what is missing or broken."""
    from .. import models

    nets = {}
    for sub, cls_name in COMPONENTS.items():
        d = folder / sub
        if not (d / "config.json").is_file() or not (d / "model.safetensors").is_file():
            raise WeightsError(f"{folder}: missing {sub}/ (config.json + model.safetensors); a pipeline folder "
                               f"needs {', '.join(s + '/' for s in COMPONENTS)}")
        try:
            nets[sub] = getattr(models, cls_name).from_pretrained(str(d))
        except WeightsError:
            raise
        except Exception as exc:  # truncated file, key mismatch, bad config
            raise WeightsError(f"{d}: cannot load {cls_name} ({type(exc).__name__}: {exc})") from exc
    return nets
