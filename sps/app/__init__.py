"""The Gradio demo: pose transfer, clothing texture transfer and parsing-map editing.

    from sps.app import Backend, build_demo, serve
    serve("weights")                                   # what `python app.py` does
    demo = build_demo(Backend("weights"))              # or build the Blocks yourself

Modules, bottom up: ``conversions`` (widget values <-> pipeline inputs, pure, raising ``sps.errors``),
``render`` (pictures to show), ``files`` (result pictures written atomically into Gradio's cache), ``presets``
(pose presets and example photos, read on first use), ``backend`` (the pipeline, loaded lazily, one inference
thread), ``handlers`` (events; the only place errors become ``gr.Error``), ``components`` and ``tabs`` (one builder
per tab; the public API is ``tabs.API_NAMES``), ``demo`` (``build_demo``), ``server`` (environment, warm-up,
launch).

Importing this package has no side effects: it sets no environment variable, reads no file and does not import
gradio; the names below load their module on first use.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Backend": "backend",
    "Handlers": "handlers",
    "build_demo": "demo",
    "serve": "server",
    "launch": "server",
    "offline_env": "server",
    "ServerOptions": "server",
}
__all__ = ["Backend", "Handlers", "ServerOptions", "build_demo", "launch", "offline_env", "serve"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
