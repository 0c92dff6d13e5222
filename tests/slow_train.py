"""`python tests/slow_train.py DELAY_S STAGE [options]`: `python -m sps.train STAGE [options]` with every optimiser
step slowed down by DELAY_S seconds, so that a test can kill the run between two checkpoints."""
from __future__ import annotations

import sys
import time

from sps.train.__main__ import main
from sps.train.loop import Trainer


def slow_down(delay: float) -> None:
    """Make `Trainer.run_step` sleep `delay` seconds after each step."""
    step = Trainer.run_step

    def run_step(self: Trainer) -> None:
        step(self)
        time.sleep(delay)

    Trainer.run_step = run_step


if __name__ == "__main__":
    slow_down(float(sys.argv[1]))
    sys.exit(main(sys.argv[2:]))
