"""sps demo: the Hugging Face Space entry point and its command line.

    python app.py                                  # http://127.0.0.1:7860 with the weights/ folder next to this file
    python app.py --weights ORG/NAME --host 0.0.0.0 --port 8080
    python app.py --help

Runs offline: analytics and telemetry are off and the theme uses system fonts only. Defaults come from the
environment where it sets them: SPS_WEIGHTS, GRADIO_SERVER_NAME, GRADIO_SERVER_PORT (a Space sets the last two),
SPS_CONCURRENCY, SPS_QUEUE_SIZE, SPS_THREADS. ``gradio app.py`` (reload mode) finds the module-level ``demo``.
"""
from __future__ import annotations

import argparse
import functools
import logging
import os
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def default_weights() -> str:
    """``$SPS_WEIGHTS`` if set, else the ``weights/`` folder next to this file."""
    return os.environ.get("SPS_WEIGHTS") or str(HERE / "weights")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    ap = argparse.ArgumentParser(prog="python app.py", description="Serve the sps Gradio demo (pose transfer, "
                                 "clothing texture transfer, parsing-map editing).")
    ap.add_argument("--weights", default=default_weights(),
                    help="pipeline folder or Hugging Face Hub repo id ORG/NAME (default: $SPS_WEIGHTS, else the "
                         "weights/ folder next to app.py: %(default)s)")
    ap.add_argument("--host", default=env("GRADIO_SERVER_NAME", "127.0.0.1"),
                    help="interface to listen on (default: $GRADIO_SERVER_NAME or %(default)s)")
    ap.add_argument("--port", type=int, default=int(env("GRADIO_SERVER_PORT", "7860")),
                    help="port (default: $GRADIO_SERVER_PORT or %(default)s)")
    ap.add_argument("--share", action="store_true", help="also open a public gradio.live link (needs internet)")
    ap.add_argument("--concurrency", type=int, default=int(env("SPS_CONCURRENCY", "2")),
                    help="generations run at once (default: $SPS_CONCURRENCY or %(default)s)")
    ap.add_argument("--queue-size", type=int, default=int(env("SPS_QUEUE_SIZE", "64")),
                    help="requests that may wait in the queue; more are told that the queue is full "
                         "(default: $SPS_QUEUE_SIZE or %(default)s)")
    ap.add_argument("--threads", type=int, default=int(env("SPS_THREADS", "0")) or None,
                    help="torch threads for the networks (default: $SPS_THREADS, else the CPU cores minus one, "
                         "1 to 4)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from sps.app.server import ServerOptions, serve

    serve(args.weights, ServerOptions(host=args.host, port=args.port, share=args.share,
                                      concurrency=args.concurrency, queue_size=args.queue_size,
                                      threads=args.threads))


@functools.cache
def _demo() -> Any:
    from sps.app.server import offline_env

    offline_env()
    from sps.app import Backend, build_demo

    return build_demo(Backend(default_weights()))


def __getattr__(name: str) -> Any:  # `demo`, built on first access (gradio's reload mode reads it)
    if name == "demo":
        return _demo()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    main()
