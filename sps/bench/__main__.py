"""`python -m sps.bench WHAT [options]`: run one benchmark and print its table."""
from __future__ import annotations

import importlib
import sys

BENCHMARKS = ("data", "models", "search", "train", "pipeline", "app")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in BENCHMARKS:
        raise SystemExit(f"usage: python -m sps.bench {{{','.join(BENCHMARKS)}}} [options]")
    # each benchmark lives in sps/bench/<name>.py and exposes main(argv)
    importlib.import_module(f"sps.bench.{argv[0]}").main(argv[1:])


if __name__ == "__main__":
    main()
