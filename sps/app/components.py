"""Widgets and texts the demo's tabs share: the photo input, example galleries, captions, theme and CSS."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr
from PIL import Image

log = logging.getLogger(__name__)
C = TypeVar("C", bound=gr.components.Component)

TITLE = "sps: person image generation"
INTRO = """
# Person image generation with semantic parsing transformation
Re-pose a person photo, swap clothes between two people, or redraw the clothing layout, following
*Song et al., "Unsupervised Person Image Generation with Semantic Parsing Transformation", CVPR 2019*.
The model first predicts **where** each garment and body part goes in the new pose (a *parsing map*,
one colour per label), then paints the source's textures into those regions.

**How to use:** ① pick a source photo (upload a full- or half-body photo of one person on a plain
background, or click an example) → ② choose a target pose (a preset, the pose of another photo, or drag
joints yourself) → ③ press **Generate**. Everything runs locally on CPU; nothing is uploaded elsewhere.
"""
FOOTER = ("<small>sps — open-source implementation of Song et al., CVPR 2019. Models trained on VITON / "
          "DeepFashion research data; for research and demonstration only.</small>")

CAPTIONS = {
    "src_kps": "**Detected source pose**: the 18 keypoints the pose estimator found on your photo.",
    "src_parsing": "**Source parsing**: which pixels are face, hair, clothes, arms and legs (colours below).",
    "tgt_pose": "**Target pose**: the skeleton the person is moved into.",
    "tgt_parsing": "**Predicted target parsing**: the clothing layout predicted for the new pose (stage 1).",
    "image": "**Generated image**: the source person's textures painted into the target layout (stage 2).",
    "warped": "**Warped source**: the photo cut into 10 rigid body parts and moved part by part to the "
              "target pose; the generator starts from this and fixes what rigid warping cannot.",
}

THEME_FONTS = {"font": ["system-ui", "sans-serif"], "font_mono": ["monospace"]}  # no web fonts: works offline
CSS = """
.sps-caption { font-size: 0.85em; line-height: 1.3; color: var(--body-text-color-subdued); }
.sps-caption p { margin: 2px 0 0 0; }
.sps-legend { font-size: 0.9em; padding: 4px 0; }
"""
OUTPUT_H = 260  # height of the result images


PHOTO_FORMATS = "a JPEG, PNG or WebP photo"


def upload_name(payload: Any) -> str | None:
    """The name a user knows an upload by (its original file name, never the server's temporary path); None when
    the value is no file."""
    for item in (payload, getattr(payload, "background", None)):  # an image, or an image editor's value
        name = getattr(item, "orig_name", None) or (Path(str(item.path)).name if getattr(item, "path", None) else None)
        if name:
            return name
    return None


def readable(component: C, what: str, expects: str = PHOTO_FORMATS) -> C:
    """Make ``component`` answer a value it cannot read (an upload that is no image, a malformed value from a
    client) with one short ``gr.Error`` naming the upload, and one log line, instead of gradio's processing error
    that quotes the value with the server's temporary path and prints a traceback. An absent value (None) goes
    to the handler, which words what is missing.

    The wrapper is set on the instance: subclassing a gradio component would make gradio write a ``.pyi`` stub
    next to this module when it is imported."""
    raw = component.preprocess

    def preprocess(payload: Any) -> Any:
        if payload is None:
            return None
        try:
            return raw(payload)
        except gr.Error:
            raise
        except Exception as e:  # PIL's UnidentifiedImageError, OSError, a malformed table...
            name = upload_name(payload)
            log.info("unreadable %s %r: %s", what, name or "(value)", type(e).__name__)
            message = (f"Could not read '{name}' as an image ({type(e).__name__}). Please use {expects} for the "
                       f"{what}." if name else f"Could not read the {what} ({type(e).__name__}): expected {expects}.")
            raise gr.Error(message, print_exception=False) from e

    component.preprocess = preprocess  # type: ignore[method-assign]
    return component


def photo_input(label: str, height: int, elem_id: str | None = None, what: str = "photo") -> gr.Image:
    """An upload-only photo input that hands the handlers a file path (unreadable uploads: see :func:`readable`)."""
    return readable(gr.Image(label=label, type="filepath", sources=["upload"], image_mode=None, height=height,
                             elem_id=elem_id), what)


def example_gallery(paths: list[str], elem_id: str, label: str = "…or click an example") -> gr.Gallery | None:
    """A one-row gallery of example photos to click (None when there are none)."""
    if not paths:
        return None
    thumbs = [(Image.open(p).convert("RGB"), None) for p in paths]
    return gr.Gallery(thumbs, label=label, columns=8, rows=1, height=150, allow_preview=False,
                      object_fit="contain", buttons=[], elem_classes=["sps-examples"], elem_id=elem_id)


def status_line(elem_id: str | None = None) -> gr.Markdown:
    """The status text under a tab's button ("Done in 0.3 s" and notes), named ``status`` in the API."""
    return gr.Markdown("", label="status", elem_id=elem_id)


def caption(text: str) -> gr.Markdown:
    """A small explanatory line under an output."""
    return gr.Markdown(text, elem_classes=["sps-caption"])


def output_image(label: str, elem_id: str | None = None) -> gr.Image:
    """A read-only result image, saved as PNG (label maps stay pixel-exact)."""
    return gr.Image(label=label, interactive=False, height=OUTPUT_H, format="png", elem_id=elem_id)


def captioned_output(label: str, text: str, elem_id: str | None = None, min_width: int = 320) -> gr.Image:
    """An output image with its caption below, in a column of its own."""
    with gr.Column(min_width=min_width):
        image = output_image(label, elem_id)
        caption(text)
    return image
