"""`python -m sps.train STAGE [--config FILE] [--preset tiny|cpu|paper] [--section.option value ...]`
`python -m sps.train plot RUN_DIR`

Works unchanged under `accelerate launch -m sps.train STAGE ...` (one CPU process to many GPUs).
"""
from __future__ import annotations

import logging
import sys

from .stages import STAGES

USAGE = f"""usage: python -m sps.train STAGE [--config FILE] [--preset tiny|cpu|paper] [--section.option value ...]
       python -m sps.train plot RUN_DIR
       python -m sps.train STAGE --help       (every option of a stage and its default)
stages: {', '.join(STAGES)}"""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "plot":
        from .plot import main as plot_main

        return plot_main(rest)
    if cmd not in STAGES:
        print(f"unknown stage {cmd!r}\n{USAGE}", file=sys.stderr)
        return 2
    from .config import parser_for, resolve

    if "-h" in rest or "--help" in rest:
        print(parser_for(cmd).format_help())
        return 0
    try:
        cfg = resolve(cmd, rest)
    except ValueError as e:
        print(f"error: {e}\n(python -m sps.train {cmd} --help lists the options)", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("accelerate", "httpx", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from .loop import run
    from .stages import get_stage

    summary = run(get_stage(cmd), cfg)
    if summary.get("exports"):
        print(f"{cmd}: {summary['steps']} steps; exported {', '.join(summary['exports'])}")
        for k, v in (summary.get("metrics") or {}).items():
            print(f"  {k}: {v:.4f}" if isinstance(v, float) else f"  {k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
