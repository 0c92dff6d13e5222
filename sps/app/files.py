"""Result pictures as files in Gradio's cache folder, each written once and atomically.

Gradio saves a returned PIL image or array as ``<cache>/<hash of the bytes>/image.png`` by rewriting the file in
place, so two requests with the same result (two users picking the same example and preset) can truncate the file
while a client is downloading it ("peer closed connection without sending complete message body"). Handlers
return the paths :func:`publish` writes instead: content-addressed names, written under a temporary name and
renamed, so a visible file is always complete; Gradio serves files already in its cache folder as they are.
"""
from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

SUBFOLDER = "sps"  # under Gradio's cache folder


def cache_folder() -> Path:
    """``<Gradio's cache folder>/sps`` (``$GRADIO_TEMP_DIR``, else ``<tmp>/gradio``)."""
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder()) / SUBFOLDER


def png_bytes(img: Image.Image | np.ndarray) -> bytes:
    """A PIL image or (H, W, 3) uint8 array encoded as PNG (lossless: label maps stay pixel-exact)."""
    im = img if isinstance(img, Image.Image) else Image.fromarray(np.asarray(img, np.uint8))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def publish(img: Image.Image | np.ndarray | None, folder: str | os.PathLike | None = None) -> str | None:
    """Write ``img`` as ``<folder>/<sha1 of its PNG bytes>.png`` unless it is already there; its path (None for
    None). ``folder`` defaults to :func:`cache_folder`."""
    if img is None:
        return None
    data = png_bytes(img)
    folder = Path(folder) if folder is not None else cache_folder()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha1(data).hexdigest()}.png"
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)  # atomic: readers see no file or the whole file
    return str(path)


def publish_editor(value: dict[str, Any]) -> dict[str, Any]:
    """An image-editor value with its background picture published (see :func:`publish`)."""
    return {**value, "background": publish(value.get("background"))}
