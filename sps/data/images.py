"""Decoding pictures: photos (any input a user may hand in) and parsing label PNGs.

``load_image`` is the one entry for photos at inference (paths, bytes, PIL, arrays, tensors); ``open_rgb`` is
the datasets' fast path; ``read_label_png`` opens a parsing map as one label id per pixel.
"""
from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import DataError, ImageReadError, ParsingError

_DECODE_ERRORS = (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError)


def _to_unit(arr: np.ndarray) -> np.ndarray:
    """Pixel values -> float32 in [0, 1]: uint8 / 255, uint16 / 65535, floats in [0, 1] kept, else / 255."""
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0
    if arr.dtype == bool:
        return arr.astype(np.float32)
    if not np.issubdtype(arr.dtype, np.number):
        raise ImageReadError(f"image array: expected numbers, got dtype {arr.dtype}")
    if not np.isfinite(arr).all():
        raise ImageReadError("image array contains NaN or infinity")
    arr = arr.astype(np.float32)
    return arr if arr.max(initial=0) <= 1.0 else np.clip(arr / 255.0, 0, 1)


def _array_to_rgb(arr: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 1/2/3/4) uint8, uint16 or float ([0, 1] or [0, 255]) -> (H, W, 3) uint8.

    A fourth (or second, for grey) channel is alpha: transparent pixels are composited on white.
    """
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise ImageReadError(f"image array: expected (H, W), (H, W, 3) or (H, W, 4), got shape {arr.shape}")
    if arr.dtype == np.uint8 and arr.shape[2] == 3:
        return np.ascontiguousarray(arr)
    x = _to_unit(arr)
    colour, alpha = (x[..., :-1], x[..., -1:]) if arr.shape[2] in (2, 4) else (x, None)
    if colour.shape[2] == 1:
        colour = np.repeat(colour, 3, axis=2)
    if alpha is not None:
        colour = colour * alpha + (1.0 - alpha)  # on white
    return np.ascontiguousarray(np.clip(np.round(colour * 255.0), 0, 255).astype(np.uint8))


def _pil_to_rgb(pil: Image.Image) -> np.ndarray:
    """A decoded PIL image of any mode -> (H, W, 3) uint8: 16-bit and float greys rescaled (PIL's own convert
    would clip them to white), transparency composited on white (it would turn black)."""
    if pil.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return _array_to_rgb(np.asarray(pil).astype(np.uint16))
    if pil.mode in ("I", "F"):
        arr = np.asarray(pil).astype(np.float64)
        top = 65535.0 if arr.max(initial=0) > 255 else 255.0
        return _array_to_rgb((np.clip(arr, 0, top) / top).astype(np.float32))
    if pil.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in pil.info:
        return _array_to_rgb(np.asarray(pil.convert("RGBA")))
    return np.asarray(pil.convert("RGB"))


def load_image(image: str | Path | bytes | Image.Image | np.ndarray | torch.Tensor, exif: bool = True) -> np.ndarray:
    """Any image (path, encoded bytes, PIL, array, tensor) -> (H, W, 3) uint8 RGB array.

    Arrays may be (H, W) grey, (H, W, 3/4), uint8 or float in [0, 1]. EXIF orientation is applied to files
    and PIL images when ``exif``. Raises ImageReadError for missing or undecodable files and bad arrays.
    """
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    if isinstance(image, np.ndarray):
        return _array_to_rgb(image)
    if isinstance(image, Image.Image):
        pil = ImageOps.exif_transpose(image) if exif else image
        return _pil_to_rgb(pil)
    if isinstance(image, (bytes, bytearray)):
        return _decode_rgb(io.BytesIO(image), "image bytes", exif)
    return _decode_rgb(image, str(image), exif)


def _decode_rgb(src: str | Path | io.BytesIO, where: str, exif: bool) -> np.ndarray:
    """Decode a file or buffer to (H, W, 3) uint8 RGB; ImageReadError naming ``where`` when it cannot."""
    try:
        with Image.open(src) as pil:
            pil = ImageOps.exif_transpose(pil) if exif else pil
            return _pil_to_rgb(pil)
    except FileNotFoundError:
        raise ImageReadError(f"{where}: image file not found") from None
    except _DECODE_ERRORS as exc:
        raise ImageReadError(f"{where}: cannot read image ({exc.__class__.__name__}: {exc})") from None


def open_rgb(path: Path) -> Image.Image:
    """Dataset path: decode a file to an RGB PIL image (no EXIF handling; 16-bit and transparency as load_image)."""
    return Image.fromarray(_decode_rgb(path, str(path), exif=False))


def image_size(path: Path) -> tuple[int, int]:
    """(H, W) of an image file from its header (no decode)."""
    try:
        with Image.open(path) as im:
            w, h = im.size
    except (OSError, UnidentifiedImageError) as exc:
        raise ImageReadError(f"{path}: cannot read image ({exc})") from None
    return h, w


def read_label_png(path: Path) -> Image.Image:
    """Open a parsing PNG as an 8-bit label image (palette index or grey value = label id)."""
    try:
        with Image.open(path) as im:
            im.load()
    except FileNotFoundError:
        raise DataError(f"{path}: parsing file not found") from None
    except _DECODE_ERRORS as exc:
        raise ImageReadError(f"{path}: cannot read parsing map ({exc.__class__.__name__}: {exc})") from None
    if im.mode in ("P", "L"):
        return im
    if im.mode in ("I", "I;16", "I;16B", "I;16L"):
        arr = np.asarray(im)
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ParsingError(f"{path}: labels {int(arr.min())}..{int(arr.max())} out of range")
        return Image.fromarray(arr.astype(np.uint8), "L")
    raise ParsingError(f"{path}: parsing PNG must hold one label id per pixel (mode P or L), got mode {im.mode}; "
                       f"colour-coded maps can be converted with sps.parsing.nearest_label")


# ----------------------------------------------------------------------------------------------
# A user's photo, downscaled when large (the pipeline and the demo read photos this one way)
# ----------------------------------------------------------------------------------------------

MIN_SIDE = 8  # smaller photos are refused
IMAGE_TYPES = (str, Path, bytes, bytearray, Image.Image, np.ndarray, torch.Tensor)


def downscaled_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """(H, W) of a photo once its long side is capped at ``max_side`` (the demo's rounding)."""
    h, w = size
    if max(h, w) <= max_side:
        return h, w
    s = max_side / max(h, w)
    return max(1, round(h * s)), max(1, round(w * s))


def _open_reduced(image: Any, max_side: int | None) -> tuple[Any, tuple[int, int] | None]:
    """A file or encoded bytes opened with PIL and, for a JPEG larger than ``max_side``, decoded at a reduced
    scale (``Image.draft``: a 6000 x 4000 photo never takes its full 72 MB); other inputs pass through.
    Returns the input to decode and, when opened here, the photo's (H, W) as shown (EXIF rotation applied)."""
    if max_side is None or not isinstance(image, (str, Path, bytes, bytearray)):
        return image, None
    from PIL import UnidentifiedImageError

    try:
        pil = Image.open(io.BytesIO(image) if isinstance(image, (bytes, bytearray)) else image)
    except (OSError, UnidentifiedImageError, ValueError):
        return image, None  # load_image words the error
    w, h = pil.size
    if max(w, h) > max_side:
        s = max_side / max(w, h)
        pil.draft("RGB", (math.ceil(w * s), math.ceil(h * s)))
    return pil, ((w, h) if pil.getexif().get(0x0112, 1) in (5, 6, 7, 8) else (h, w))


def read_image(image: Any, where: str, max_side: int | None = None) -> tuple[np.ndarray, tuple[int, int]]:
    """Any supported image input -> (H, W, 3) uint8 and the photo's (H0, W0) as given, or ImageReadError saying what
    is wrong. A photo longer than ``max_side`` is downscaled (Lanczos) to at most ``max_side`` a side."""
    if not isinstance(image, IMAGE_TYPES):
        raise ImageReadError(f"{where}: expected a file path, encoded bytes, a PIL image or an (H, W, 3) array, "
                             f"got {type(image).__name__}")
    try:
        src, original = _open_reduced(image, max_side)
        try:
            arr = load_image(src)
        finally:
            if src is not image:
                src.close()
    except ImageReadError:
        raise
    except (OSError, ValueError, TypeError) as exc:  # anything a decoder throws
        raise ImageReadError(f"{where}: cannot read image ({exc})") from None
    if arr.shape[0] < MIN_SIDE or arr.shape[1] < MIN_SIDE:
        raise ImageReadError(f"{where}: image of {arr.shape[0]}x{arr.shape[1]} pixels is too small")
    original = original or arr.shape[:2]
    size = downscaled_size(original, max_side) if max_side else original
    if arr.shape[:2] != size:
        arr = np.asarray(Image.fromarray(arr).resize((size[1], size[0]), Image.LANCZOS))
    return arr, original
