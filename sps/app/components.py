"""Widgets and texts the demo's tabs share: the photo input, example galleries, captions, theme and CSS."""
from __future__ import annotations

from pathlib import Path

import gradio as gr
from PIL import Image, UnidentifiedImageError

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


class PhotoInput(gr.Image):
    """``gr.Image`` whose upload errors become a clear ``gr.Error`` instead of a bare server error."""

    is_template = True  # rendered by the frontend's Image component

    def preprocess(self, payload):  # type: ignore[override]
        try:
            return super().preprocess(payload)
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
            name = getattr(payload, "orig_name", None) or Path(str(getattr(payload, "path", "file"))).name
            raise gr.Error(f"Could not read '{name}' as an image ({type(e).__name__}). "
                           "Please upload a JPEG, PNG or WebP photo.") from e


def photo_input(label: str, height: int, elem_id: str | None = None) -> PhotoInput:
    """An upload-only photo input that hands the handlers a file path."""
    return PhotoInput(label=label, type="filepath", sources=["upload"], image_mode=None, height=height,
                      elem_id=elem_id)


def example_gallery(paths: list[str], elem_id: str, label: str = "…or click an example") -> gr.Gallery | None:
    """A one-row gallery of example photos to click (None when there are none)."""
    if not paths:
        return None
    thumbs = [(Image.open(p).convert("RGB"), None) for p in paths]
    return gr.Gallery(thumbs, label=label, columns=8, rows=1, height=150, allow_preview=False,
                      object_fit="contain", show_share_button=False, show_download_button=False,
                      show_fullscreen_button=False, elem_classes=["sps-examples"], elem_id=elem_id)


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
