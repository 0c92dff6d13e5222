"""Serving the demo offline: environment, queue, launch, and a middleware that keeps the page local.

``serve(weights, host=..., port=...)`` is what ``app.py`` runs. Nothing here imports gradio at module level, so
:func:`offline_env` can set the environment before gradio and huggingface_hub read it.
"""
from __future__ import annotations

import logging
import os
import re
import warnings
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# Read by gradio and huggingface_hub when they are imported: no analytics, no telemetry.
OFFLINE_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1"}


def offline_env() -> None:
    """Switch analytics and telemetry off unless the environment says otherwise. Call before importing gradio."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


@dataclass(frozen=True)
class ServerOptions:
    """Where and how the app listens: ``concurrency`` generations at once, at most ``queue_size`` waiting."""

    host: str = "127.0.0.1"
    port: int = 7860
    share: bool = False
    concurrency: int = 2
    queue_size: int = 64
    threads: int | None = None  # torch threads of the inference thread (None: backend.default_threads())
    warm_up: bool = True  # one generation before the first user (see warm_up)


class OfflineHTML:
    """ASGI middleware: drop the third-party URLs Gradio's page template hard-codes (an iframe-resizer script
    from cdnjs, font preconnects), so that the page makes no request outside this server."""

    PATTERNS = (
        rb'<script\s+src="https://cdnjs\.cloudflare\.com/[^"]*"\s*async\s*>\s*</script>',
        rb'<link\s+rel="preconnect"\s+href="https://fonts\.g[^"]*"[^>]*/>',
    )

    def __init__(self, app: Any):
        self.app = app
        self._res = [re.compile(p) for p in self.PATTERNS]

    def clean(self, body: bytes) -> bytes:
        """An HTML body without the third-party tags."""
        for rx in self._res:
            body = rx.sub(b"", body)
        return body

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET":
            return await self.app(scope, receive, send)
        start: dict | None = None
        chunks: list[bytes] = []

        async def wrapped(message: dict) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = {k.lower(): v for k, v in message.get("headers", [])}
                if headers.get(b"content-type", b"").startswith(b"text/html") and b"content-encoding" not in headers:
                    start = message  # held back until the whole body is there
                    return
                await send(message)
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                body = self.clean(b"".join(chunks))
                headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(body)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": body})
            else:
                await send(message)

        await self.app(scope, receive, wrapped)


def launch(demo: Any, options: ServerOptions = ServerOptions(), **kwargs: Any) -> None:
    """Queue and launch a built demo (blocks until the server stops)."""
    from starlette.middleware import Middleware

    from .demo import style

    # gradio 6.17 reads starlette's deprecated HTTP_422 name on every request; gradio's own warning filters reset
    # the once-per-place registry, so without this the log gets the deprecation warning twice per request
    warnings.filterwarnings("ignore", message="'HTTP_422_UNPROCESSABLE_ENTITY' is deprecated")
    demo.queue(default_concurrency_limit=options.concurrency, max_size=options.queue_size)
    # show_error=False: an exception that is not a gr.Error (a bug outside the handlers) shows a bare "Error"
    # toast, never its text; the handlers' own errors are gr.Errors and always shown.
    demo.launch(server_name=options.host, server_port=options.port, share=options.share, ssr_mode=False,
                show_error=False, app_kwargs={"middleware": [Middleware(OfflineHTML)]}, **{**style(), **kwargs})


def warm_up(backend: Any) -> None:
    """Before the first user comes: a pose estimate and a pose transfer (to the photo's own pose) of a shipped example
    photo, and its drawing. The first forward pass on the inference thread (torch's thread pool, oneDNN kernels,
    lazy imports) is slower than the next ones. A failure is logged, not raised (the app still serves)."""
    import time

    from PIL import Image

    from .files import png_bytes
    from .presets import shipped_examples
    from .render import parsing_image

    t0 = time.perf_counter()
    try:
        im = Image.open(shipped_examples()[0]).convert("RGB")
        kps, _ = backend.estimate_pose(im)
        png_bytes(parsing_image(backend.transfer(im, kps).target_parsing))
    except Exception as e:  # noqa: BLE001 (best effort: random test weights may find no person on the photo)
        log.warning("warm-up generation failed (%s: %s); serving anyway", type(e).__name__, e)
    else:
        log.info("warm-up generation in %.2f s", time.perf_counter() - t0)


def serve(weights: str | os.PathLike, options: ServerOptions = ServerOptions(), **kwargs: Any) -> None:
    """Set the offline environment, load the pipeline of ``weights`` (a folder or Hub repo id; fails fast),
    warm it up, build the demo and serve it."""
    offline_env()
    from .backend import Backend, default_threads
    from .demo import build_demo

    threads = options.threads or default_threads()
    backend = Backend(weights, threads=threads).load()
    if options.warm_up:
        warm_up(backend)
    log.info("serving on %s:%d (share=%s, torch threads %d, concurrency %d, queue %d)", options.host, options.port,
             options.share, threads, options.concurrency, options.queue_size)
    launch(build_demo(backend), options, **kwargs)
