"""Saving and loading networks: ``config.json`` + ``model.safetensors`` via ``PyTorchModelHubMixin``.

All sps networks subclass :class:`HubModel`. Compared with the mixin's defaults:

* ``from_pretrained`` rebuilds the exact config (unknown or ill-typed fields are an error), loads
  with ``strict=True`` and turns every problem (missing file, truncated or corrupted safetensors,
  a ``config.json`` that does not match the weights, another network's folder) into
  :class:`sps.errors.WeightsError` naming the file;
* ``save_pretrained(dir, dtype=torch.float16)`` stores half-precision weights (half the size);
  ``from_pretrained`` always casts back to the network's own dtype (float32);
* ``config.json`` also records ``"model_type"`` (the class name), checked when loading.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, ClassVar

import torch
from huggingface_hub import PyTorchModelHubMixin, constants, hf_hub_download
from safetensors.torch import load_file, save_file
from torch import nn

from ..errors import WeightsError
from .config import ConfigBase

log = logging.getLogger(__name__)

CONFIG_NAME = constants.CONFIG_NAME  # "config.json"
WEIGHTS_NAME = constants.SAFETENSORS_SINGLE_FILE  # "model.safetensors"


def resolve_file(model_id: str | os.PathLike, filename: str, **hub_kwargs: Any) -> Path:
    """Path of ``filename`` in a local folder or a Hub repo (via the cache); WeightsError if absent."""
    model_id = str(model_id)
    if os.path.isdir(model_id):
        path = Path(model_id) / filename
        if not path.is_file():
            raise WeightsError(f"{path}: file not found (expected {CONFIG_NAME} and {WEIGHTS_NAME} in {model_id})")
        return path
    if os.path.exists(model_id):
        raise WeightsError(f"{model_id}: expected a folder holding {CONFIG_NAME} and {WEIGHTS_NAME}")
    try:
        return Path(hf_hub_download(repo_id=model_id, filename=filename, **hub_kwargs))
    except Exception as e:  # offline, unknown repo, missing entry, bad repo id
        raise WeightsError(f"{model_id}/{filename}: not a local folder and not found on the Hub or in its cache "
                           f"({type(e).__name__}: {e})") from e


def read_config(path: Path, config_class: type[ConfigBase], model_type: str) -> ConfigBase:
    """Read and validate a config.json for ``config_class``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise WeightsError(f"{path}: unreadable config ({e})") from e
    if not isinstance(data, dict):
        raise WeightsError(f"{path}: expected a JSON object, got {type(data).__name__}")
    found = data.pop("model_type", model_type)
    if found != model_type:
        raise WeightsError(f"{path}: holds a {found} config, not a {model_type}")
    try:
        return config_class.from_dict(data)
    except (TypeError, ValueError) as e:
        raise WeightsError(f"{path}: invalid {config_class.__name__} ({e})") from e


def load_weights(model: nn.Module, path: Path, strict: bool = True, device: str | torch.device = "cpu",
                 config_path: Path | None = None) -> None:
    """Load a safetensors file into ``model`` (cast to the model's dtypes); WeightsError on any mismatch."""
    try:
        state = load_file(str(path), device=str(device))
    except FileNotFoundError as e:
        raise WeightsError(f"{path}: file not found") from e
    except Exception as e:  # safetensors raises SafetensorError / OSError on truncated or corrupt files
        raise WeightsError(f"{path}: unreadable, truncated or corrupted safetensors file ({e})") from e
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
                  for k in own if k in state and state[k].shape != own[k].shape]
    if mismatched or (strict and (missing or unexpected)):
        against = f" and its config {config_path}" if config_path else ""
        parts = []
        if mismatched:
            parts.append(f"{len(mismatched)} shape mismatches (e.g. {'; '.join(mismatched[:3])})")
        if strict and missing:
            parts.append(f"{len(missing)} missing tensors (e.g. {missing[:3]})")
        if strict and unexpected:
            parts.append(f"{len(unexpected)} unexpected tensors (e.g. {unexpected[:3]})")
        raise WeightsError(f"{path}: weights do not match the network built from{against or ' its config'}: "
                           + ", ".join(parts))
    state = {k: v.to(own[k].dtype) for k, v in state.items() if k in own}
    model.load_state_dict(state, strict=strict)


class HubModel(nn.Module, PyTorchModelHubMixin, library_name="sps", license="apache-2.0",
               tags=["sps", "person-image-generation"], paper_url="https://arxiv.org/abs/1904.03379"):
    """Base class of sps networks: ``self.config`` (a ConfigBase) + strict Hub save/load."""

    config_class: ClassVar[type[ConfigBase]] = ConfigBase

    def __init__(self, config: ConfigBase | dict | None = None) -> None:
        super().__init__()
        if config is None:
            config = self.config_class()
        elif isinstance(config, dict):
            config = self.config_class.from_dict(config)
        elif not isinstance(config, self.config_class):
            raise TypeError(f"{type(self).__name__} needs a {self.config_class.__name__}, got {type(config).__name__}")
        self.config = config
        self._hub_mixin_config = config  # what save_pretrained writes to config.json
        self._save_dtype: torch.dtype | None = None

    # -- saving -------------------------------------------------------------------------------------
    def save_pretrained(self, save_directory: str | os.PathLike, *, dtype: torch.dtype | None = None,
                        **kwargs: Any) -> str | None:
        """Write config.json + model.safetensors (+ a model card README.md if absent).

        Args:
            dtype: store floating tensors in this dtype (e.g. ``torch.float16`` halves the file);
                ``from_pretrained`` casts back to float32.
            kwargs: passed to ``PyTorchModelHubMixin.save_pretrained`` (push_to_hub, repo_id, ...).
        """
        self._save_dtype = dtype
        try:
            return super().save_pretrained(save_directory, **kwargs)
        finally:
            self._save_dtype = None

    def _save_pretrained(self, save_directory: Path) -> None:
        dtype = self._save_dtype
        state = {}
        for k, v in self.state_dict().items():
            v = v.detach()
            if dtype is not None and v.is_floating_point():
                v = v.to(dtype)
            state[k] = v.contiguous().clone().cpu()
        meta = {"format": "pt", "sps_model": type(self).__name__}
        save_file(state, str(Path(save_directory) / WEIGHTS_NAME), metadata=meta)
        cfg = {"model_type": type(self).__name__, **self.config.to_dict()}
        (Path(save_directory) / CONFIG_NAME).write_text(json.dumps(cfg, indent=2, sort_keys=True))

    # -- loading ------------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, *, strict: bool = True,
                        map_location: str | torch.device = "cpu", revision: str | None = None,
                        cache_dir: str | os.PathLike | None = None, force_download: bool = False,
                        local_files_only: bool = False, token: str | bool | None = None, **_: Any):
        """Load from a local folder or a Hub repo id (through the HF cache; honours HF_HUB_OFFLINE).

        Raises:
            WeightsError: missing/corrupt files, or a config that does not match the weights.
        """
        hub = dict(revision=revision, cache_dir=cache_dir, force_download=force_download,
                   local_files_only=local_files_only, token=token)
        config_path = resolve_file(pretrained_model_name_or_path, CONFIG_NAME, **hub)
        config = read_config(config_path, cls.config_class, cls.__name__)
        weights_path = resolve_file(pretrained_model_name_or_path, WEIGHTS_NAME, **hub)
        model = cls(config)
        load_weights(model, weights_path, strict=strict, device=map_location, config_path=config_path)
        model.to(map_location)
        model.eval()
        return model

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)
