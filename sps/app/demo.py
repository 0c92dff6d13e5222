"""``build_demo(backend)``: the Gradio Blocks app, three tabs over one :class:`Backend`."""
from __future__ import annotations

import gradio as gr

from . import components as W
from .backend import Backend
from .handlers import Handlers
from .presets import example_photos, presets
from .tabs import build_edit_tab, build_pose_tab, build_texture_tab


def build_demo(backend: Backend, examples: list[str] | None = None) -> gr.Blocks:
    """The Blocks app on ``backend`` (pipeline loaded lazily unless already loaded). ``examples``: photos to offer
    for clicking (default: a few of the data folder, none when it is absent). The backend is ``demo.sps_backend``.
    """
    h = Handlers(backend)
    examples = example_photos() if examples is None else examples
    poses = presets()
    with gr.Blocks(title=W.TITLE, theme=gr.themes.Default(**W.THEME_FONTS), css=W.CSS,
                   analytics_enabled=False) as demo:
        gr.Markdown(W.INTRO)
        with gr.Tabs():
            build_pose_tab(h, examples, poses)
            build_texture_tab(h, examples)
            build_edit_tab(h, examples, poses)
        gr.Markdown(W.FOOTER)
    demo.sps_backend = backend  # type: ignore[attr-defined]
    return demo
