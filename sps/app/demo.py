"""``build_demo(backend)``: the Gradio Blocks app, three tabs over one :class:`Backend`."""
from __future__ import annotations

import logging
from typing import Any

import gradio as gr

from . import components as W
from .backend import Backend
from .handlers import Handlers
from .presets import example_photos, presets
from .tabs import build_edit_tab, build_pose_tab, build_texture_tab

log = logging.getLogger(__name__)


def build_demo(backend: Backend, examples: list[str] | None = None) -> gr.Blocks:
    """The Blocks app on ``backend`` (pipeline loaded lazily unless already loaded). ``examples``: photos to offer
    for clicking (default: :func:`example_photos`, the shipped ones plus a few of the data folder when present).
    The backend is ``demo.sps_backend``; launch it with ``demo.launch(**style())``.
    """
    h = Handlers(backend)
    examples = example_photos() if examples is None else examples
    poses = presets()
    with gr.Blocks(title=W.TITLE, analytics_enabled=False) as demo:
        gr.Markdown(W.INTRO)
        with gr.Tabs():
            build_pose_tab(h, examples, poses)
            build_texture_tab(h, examples)
            build_edit_tab(h, examples, poses)
        gr.Markdown(W.FOOTER)
    demo.sps_backend = backend  # type: ignore[attr-defined]
    return guard_inputs(demo)


def guard_inputs(demo: gr.Blocks) -> gr.Blocks:
    """Word the input errors gradio raises itself like the handlers' own: one toast, one log line, no traceback.

    They are a value that is not one of a dropdown's or radio's choices (gradio's ``gr.Error``, which it logs with a
    traceback) and a value of the wrong type for its component (a client's call; pydantic's ValidationError, which
    gradio would report as a server error). Wraps ``Blocks.preprocess_data`` on this instance; a gradio without
    that method is left as it is."""
    raw = getattr(demo, "preprocess_data", None)
    if raw is None:
        log.warning("gradio %s has no Blocks.preprocess_data: input errors keep gradio's wording", gr.__version__)
        return demo

    async def preprocess_data(block_fn: Any, inputs: list[Any], state: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await raw(block_fn, inputs, state, *args, **kwargs)
        except gr.Error as e:
            if e.print_exception:  # gradio's own (ours are logged where raised)
                e.print_exception = False
                log.info("/%s: invalid input: %s", block_fn.api_name, e.message)
            raise
        except Exception as e:
            log.info("/%s: invalid input: %s", block_fn.api_name, type(e).__name__)
            raise gr.Error(f"Invalid input for /{block_fn.api_name} ({type(e).__name__}); the API page (link at the "
                           "bottom of the app) lists the values each input takes.", print_exception=False) from e

    demo.preprocess_data = preprocess_data  # type: ignore[method-assign]
    return demo


def style() -> dict[str, Any]:
    """The look of the page, given to ``launch`` (Gradio 6 takes theme and CSS there): system fonts, our CSS."""
    return {"theme": gr.themes.Default(**W.THEME_FONTS), "css": W.CSS}
