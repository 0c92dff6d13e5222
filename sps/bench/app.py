"""`python -m sps.bench app`: load test of the Gradio demo through its API.

Starts ``python app.py --weights W`` on a free loopback port (or uses ``--url`` of a running app) and, for each
level (1 user, 20 and 100 concurrent users by default), has every user send its ``/transfer`` requests with
``gradio_client``; prints one markdown row per level: requests answered, told "queue full", errors, latency
percentiles p50 / p95 / p99 (end to end: queueing, upload, generation, download), throughput and the server's
peak memory so far (VmHWM of ``/proc/<pid>/status``). Bounded: a fixed number of requests, each with a timeout;
the app is stopped at the end.

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
    extra_args: list[str] = field(default_factory=list)  # more app.py options
    proc: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> AppServer:
        env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_DISABLE_TELEMETRY="1",
                   HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1", **self.env)
        cmd = [sys.executable, str(APP_SCRIPT), "--weights", str(self.weights), "--host", "127.0.0.1",
               "--port", str(self.port), *self.extra_args]
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

LEVELS = ((1, 30), (20, 3), (100, 1))  # (concurrent users, requests each): 30 + 60 + 100 requests


def default_source() -> str:
    """A photo for the requests: the first photo of the data folder when present (a typical 176 x 256 fashion
    photo), else the first shipped example."""
    from ..app.presets import data_examples, shipped_examples

    return (data_examples() or shipped_examples())[0]


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in [0, 100])."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = int(pos), min(int(pos) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _client(url: str) -> Any:
    from gradio_client import Client

    return Client(url, verbose=False, analytics_enabled=False)


def load_test(url: str, users: int = 20, per_user: int = 1, source: str | None = None, preset: int = 0,
              timeout: float = 300.0) -> dict[str, Any]:
    """``users`` clients (one session each) send ``per_user`` ``/transfer`` requests each, one after the other,
    all users starting together. Every request ends as answered (its latency, end to end including queueing,
    upload and download), ``queue full`` (the app's answer when its queue is full) or an error (anything else).
    Bounded: ``users * per_user`` requests, each given at most ``timeout`` seconds. The target pose is preset
    ``preset`` (default: the first, a pose without knees, usable for the shipped half-body photos too)."""
    from gradio_client import handle_file
    from gradio_client.utils import QueueError

    from ..app.conversions import COLUMNS, kps_to_table
    from ..app.presets import presets

    source = source or default_source()
    poses = presets()
    table = {"headers": COLUMNS, "data": kps_to_table(poses[preset % len(poses)].kps)}
    with ThreadPoolExecutor(max_workers=min(users, 16)) as pool:
        clients = list(pool.map(lambda _: _client(url), range(users)))
    barrier = threading.Barrier(users)

    def one_user(client: Any) -> list[tuple[float, str | None]]:
        barrier.wait()  # all users start together
        out = []
        for _ in range(per_user):
            t0 = time.perf_counter()
            try:
                res = client.submit(handle_file(source), table, api_name="/transfer").result(timeout=timeout)
                err = None if res and res[4] else "no image returned"
            except Exception as e:  # noqa: BLE001 (counted, not raised)
                err = "queue full" if isinstance(e, QueueError) else f"{type(e).__name__}: {e}"
            out.append((time.perf_counter() - t0, err))
        return out

    t0 = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=users) as pool:
            results = [r for rs in pool.map(one_user, clients) for r in rs]
    finally:
        for c in clients:
            c.close()
    wall = time.perf_counter() - t0
    lat = [t for t, e in results if e is None]
    errors = [e for _, e in results if e is not None and e != "queue full"]
    return {"users": users, "requests": len(results), "answered": len(lat),
            "queue_full": sum(e == "queue full" for _, e in results), "errors": errors, "wall_s": wall,
            "latencies": lat, **{f"p{q}": percentile(lat, q) for q in (50, 95, 99)},
            "throughput": len(lat) / wall if wall > 0 else float("nan")}


def _table(rows: list[dict[str, Any]]) -> str:
    head = ("| users | requests | answered | queue full | errors | p50 (s) | p95 (s) | p99 (s) | wall (s) | req/s "
            "| server peak memory (MiB) |")
    lines = [head, "|" + "---:|" * 11]
    for r in rows:
        peak = "n/a" if r.get("peak_mib") is None else f"{r['peak_mib']:.0f}"
        lines.append(f"| {r['users']} | {r['requests']} | {r['answered']} | {r['queue_full']} | {len(r['errors'])} "
                     f"| {r['p50']:.2f} | {r['p95']:.2f} | {r['p99']:.2f} | {r['wall_s']:.1f} "
                     f"| {r['throughput']:.2f} | {peak} |")
    return "\n".join(lines)


def _levels(text: str) -> list[tuple[int, int]]:
    """"1x30,20x3,100x1" -> [(1, 30), (20, 3), (100, 1)]."""
    try:
        return [(int(u), int(n)) for u, n in (part.split("x") for part in text.split(","))]
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected USERSxREQUESTS[,...], e.g. 1x30,20x3: {text!r}") from e


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m sps.bench app", description=__doc__.split("\n\n")[0])
    ap.add_argument("--levels", type=_levels, default=list(LEVELS),
                    help="concurrent users x requests each (default: 1x30,20x3,100x1)")
    ap.add_argument("--url", help="a running app (default: start app.py on a free port)")
    ap.add_argument("--weights", default=os.environ.get("SPS_WEIGHTS"),
                    help="pipeline folder (default: $SPS_WEIGHTS; random 'cpu' weights when neither is given)")
    ap.add_argument("--source", help="source photo (default: the first data-folder photo, else a shipped example)")
    ap.add_argument("--app-args", default="", help="extra app.py options, e.g. --app-args='--threads 2'")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from ..app.server import offline_env

    offline_env()
    source = args.source or default_source()
    if args.url:
        rows = [load_test(args.url, u, n, source) for u, n in args.levels]
        note, log_tail = "(running app)", ""
    else:
        if args.weights:
            weights, note = Path(args.weights), args.weights
        else:
            weights, _ = choose_weights()
            note = f"random 'cpu' preset (no --weights, no $SPS_WEIGHTS): {weights}"
        with AppServer(weights, extra_args=args.app_args.split()) as server:
            rows = []
            for users, n in args.levels:
                rows.append({**load_test(server.url, users, n, source), "peak_mib": server.peak_memory_mib()})
            log_tail = server.log_tail(1500)
    from PIL import Image

    w, h = Image.open(source).size
    print(f"machine: {os.cpu_count()} CPU cores; weights: {note}; source: {Path(source).name} ({w} x {h}); "
          f"app options: {args.app_args or '(defaults)'}\n")
    print(_table(rows))
    errors = [e for r in rows for e in r["errors"]]
    for e in errors[:5]:
        print("error:", e)
    if errors:
        print(log_tail)
        raise SystemExit(1)
