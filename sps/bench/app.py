"""`python -m sps.bench app`: load test of the Gradio demo through its API.

Starts ``python app.py --weights W`` on a free port (or uses ``--url`` of a running app), fires N concurrent
``/transfer`` requests with ``gradio_client`` and prints a markdown table: errors, latency percentiles
(p50 / p90 / p99, end to end including queueing), throughput and the server's peak memory (VmHWM of
``/proc/<pid>/status``).

Also the helpers the app tests share: ``choose_weights`` (the given or ``$SPS_WEIGHTS`` pipeline folder when
complete, else a random-weight one), ``AppServer`` (the app as a subprocess) and ``load_test``.
"""
from __future__ import annotations

import argparse
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

APP_SCRIPT = Path(__file__).resolve().parents[2] / "app.py"  # the demo's entry point, started as a subprocess
COMPONENT_DIRS = ("pose_estimator", "human_parser", "semantic_generator", "appearance_generator")


# ----------------------------------------------------------------------------------------------
# Weights for the app under test
# ----------------------------------------------------------------------------------------------

def weights_complete(folder: str | Path) -> bool:
    """True when ``folder`` holds all four networks (config.json + model.safetensors each)."""
    folder = Path(folder)
    return all((folder / d / "config.json").is_file() and (folder / d / "model.safetensors").is_file()
               for d in COMPONENT_DIRS)


def random_weights(folder: str | Path, preset: str = "cpu", probes: list[str] | None = None,
                   seeds: range = range(1, 40)) -> Path:
    """Save a random-weight pipeline (config preset ``preset``) to ``folder``, for tests without trained weights.

    Random pose estimators put joints anywhere, so every joint is kept (``keypoint_threshold`` very low) and
    the seed is searched until the neck and both shoulders of every ``probes`` photo (default: the app's
    example photos) land on the photo, as the pipeline requires.
    """
    import torch

    from .. import pose as K
    from ..app.presets import example_photos
    from ..pipeline import SPSPipeline

    probes = example_photos() if probes is None else probes
    for seed in seeds:
        pipe = SPSPipeline.from_preset(preset, seed=seed)
        pipe.settings.keypoint_threshold = -1e9  # keep every joint: random heatmaps have tiny peaks
        if all(K.visible(pipe.analyse(p)[0])[list(K.REQUIRED_JOINTS)].all() for p in probes):
            break
    else:
        log.warning("no seed in %s places the required joints on every probe photo", seeds)
    torch.manual_seed(0)
    return pipe.save_pretrained(folder)


def choose_weights(tmp: str | Path | None = None, preset: str = "cpu",
                   weights: str | Path | None = None) -> tuple[Path, bool]:
    """``(folder, shipped)``: ``weights`` (default ``$SPS_WEIGHTS``) when it is a complete pipeline folder, else
    random weights of ``preset`` saved in ``tmp``."""
    weights = weights or os.environ.get("SPS_WEIGHTS")
    if weights and weights_complete(weights):
        return Path(weights), True
    tmp = Path(tmp) if tmp is not None else Path(tempfile.mkdtemp(prefix="sps_app_weights_"))
    return random_weights(tmp / f"random_{preset}", preset), False


# ----------------------------------------------------------------------------------------------
# The app as a subprocess
# ----------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_memory_mib(pid: int) -> float | None:
    """Peak resident memory (VmHWM) of a process in MiB, from /proc (None where unavailable)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


@dataclass
class AppServer:
    """``python app.py --weights W`` on a free local port, with the offline env vars; use as a context manager."""

    weights: str | Path
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    startup_timeout: float = 180.0
    proc: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> AppServer:
        env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_DISABLE_TELEMETRY="1",
                   HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1", **self.env)
        cmd = [sys.executable, str(APP_SCRIPT), "--weights", str(self.weights), "--host", "127.0.0.1",
               "--port", str(self.port)]
        fd, name = tempfile.mkstemp(prefix="sps_app_", suffix=".log")
        self.log_path = Path(name)
        self.proc = subprocess.Popen(cmd, cwd=APP_SCRIPT.parent, env=env, stdout=fd, stderr=subprocess.STDOUT)
        os.close(fd)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "config", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"app.py did not answer on {self.url} within {self.startup_timeout:.0f} s:\n"
                           f"{self.log_tail()}")

    def log_tail(self, n: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-n:] if self.log_path and self.log_path.exists() else ""

    def peak_memory_mib(self) -> float | None:
        return peak_memory_mib(self.proc.pid) if self.proc else None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ----------------------------------------------------------------------------------------------
# Load test
# ----------------------------------------------------------------------------------------------

def default_source() -> str:
    """A photo for the requests: the first of the app's examples (needs the data folder)."""
    from ..app.presets import example_photos

    photos = example_photos()
    if not photos:
        raise SystemExit("no example photo found (data folder absent): pass --source PHOTO")
    return photos[0]


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in [0, 100])."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = int(pos), min(int(pos) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def load_test(url: str, requests: int = 20, source: str | None = None, preset: int = 1) -> dict[str, Any]:
    """Fire ``requests`` concurrent /transfer calls (one client thread each); latencies and errors."""
    from gradio_client import Client, handle_file

    from ..app.conversions import COLUMNS, kps_to_table
    from ..app.presets import presets

    source = source or default_source()
    poses = presets()
    table = {"headers": COLUMNS, "data": kps_to_table(poses[preset % len(poses)].kps)}
    client = Client(url, verbose=False)
    barrier = threading.Barrier(requests)

    def one(i: int) -> tuple[float, str | None]:
        barrier.wait()  # all requests leave together
        t0 = time.perf_counter()
        try:
            out = client.predict(handle_file(source), table, api_name="/transfer")
            err = None if out and out[4] else "no image returned"
        except Exception as e:  # report, do not raise: the test counts them
            err = f"{type(e).__name__}: {e}"
        return time.perf_counter() - t0, err

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=requests) as pool:
        results = list(pool.map(one, range(requests)))
    wall = time.perf_counter() - t0
    lat = [t for t, e in results if e is None]
    errors = [e for _, e in results if e is not None]
    return {"requests": requests, "errors": errors, "wall_s": wall, "latencies": lat,
            "p50": percentile(lat, 50), "p90": percentile(lat, 90), "p99": percentile(lat, 99),
            "throughput": len(lat) / wall if wall > 0 else float("nan")}


def _table(stats: dict[str, Any], weights: str, peak: float | None) -> str:
    import torch

    rows = [
        ("machine", f"{os.cpu_count()} CPU cores, torch threads {torch.get_num_threads()} (client side)"),
        ("weights", weights),
        ("requests (all at once)", str(stats["requests"])),
        ("errors", str(len(stats["errors"]))),
        ("latency p50 / p90 / p99 (s)", f"{stats['p50']:.2f} / {stats['p90']:.2f} / {stats['p99']:.2f}"),
        ("wall time (s)", f"{stats['wall_s']:.2f}"),
        ("throughput (req/s)", f"{stats['throughput']:.2f}"),
        ("server peak memory VmHWM (MiB)", "n/a" if peak is None else f"{peak:.0f}"),
    ]
    return "\n".join(["| quantity | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m sps.bench app", description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=20, help="concurrent /transfer requests (default 20)")
    ap.add_argument("--url", help="a running app (default: start app.py on a free port)")
    ap.add_argument("--weights", default=os.environ.get("SPS_WEIGHTS"),
                    help="pipeline folder (default: $SPS_WEIGHTS; random 'cpu' weights when neither is given)")
    ap.add_argument("--source", help="source photo (default: the first example photo of the data folder)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    source = args.source or default_source()
    if args.url:
        stats = load_test(args.url, args.requests, source)
        print(_table(stats, "(running app)", None))
    else:
        if args.weights:
            weights, note = Path(args.weights), args.weights
        else:
            weights, _ = choose_weights()
            note = f"random 'cpu' preset (no --weights, no $SPS_WEIGHTS): {weights}"
        with AppServer(weights) as server:
            client_warm = load_test(server.url, 1, source)  # first call pays lazy imports; not counted
            if client_warm["errors"]:
                raise SystemExit(f"warm-up request failed: {client_warm['errors'][0]}\n{server.log_tail()}")
            stats = load_test(server.url, args.requests, source)
            peak = server.peak_memory_mib()
        print(_table(stats, note, peak))
    for e in stats["errors"][:5]:
        print("error:", e)
    if stats["errors"]:
        raise SystemExit(1)
