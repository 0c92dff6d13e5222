"""`python -m sps.train plot RUN_DIR [--out FILE]`: loss curves from RUN_DIR/log.csv to a PNG."""
from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

SKIP = ("step", "time", "samples_per_s", "lr")


def read_log(path: str | Path) -> dict[str, list[float]]:
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise ValueError(f"{path}: no rows")
    cols: dict[str, list[float]] = {k: [] for k in rows[0]}
    for r in rows:
        for k in cols:
            v = r.get(k)
            cols[k].append(float(v) if v not in (None, "") else math.nan)
    return cols


def plot(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """One panel per logged term (log-scale y where all values are positive) against the step."""
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    cols = read_log(run_dir / "log.csv")
    terms = [k for k in cols if k not in SKIP]
    n = max(1, len(terms))
    ncol = min(3, n)
    nrow = math.ceil(n / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.0 * nrow), squeeze=False)
    for ax, k in zip(axes.flat, terms):
        ys = cols[k]
        ax.plot(cols["step"], ys, lw=1.2)
        if all(y > 0 for y in ys if not math.isnan(y)):
            ax.set_yscale("log")
        ax.set_title(k)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(f"{run_dir.name}: loss terms")
    fig.tight_layout()
    out = Path(out) if out else run_dir / "loss_curves.png"
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print("usage: python -m sps.train plot RUN_DIR [--out FILE]", file=sys.stderr)
        return 2
    out = argv[argv.index("--out") + 1] if "--out" in argv else None
    import matplotlib

    matplotlib.use("Agg")  # command line: files only, no window
    try:
        path = plot(argv[0], out)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
