"""Storage under load: 20 reader threads poll a job's state and metrics while a real worker runs a job that
writes thousands of metric points; then 20 pollers read 30k-point curves thinned to 1000 points, first the
old way (every row into Python, every k-th kept: `old_metric_series` below, the reference) and then with
storage.metrics.metric_series (thinned in SQL), in the same run. The last line is the p95 ratio old / new.

    .venv/bin/python benchmarks/storage.py [--readers 20] [--steps 1000] [--interval 0.05] [--curve-seconds 10]

Each reader polls every --interval seconds (a live UI refreshes about once a second; 0.05 s is 20x that).
Latency is wall time per poll in the reader thread, so it includes waiting for Python's GIL among readers.

The job is `linear_fit` (pure-Python SGD, 11 metrics per step, a checkpoint + flush every 10 steps) from
tests/test_jobs_kinds.py, run by `python -m training.worker` in its own processes, as in the app.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from storage.models import JobStatus

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def old_metric_series(run_id: int, names: list[str], max_points: int) -> dict:
    """The reference: metric_series as it was before thinning moved into SQL (reads every row of a curve)."""
    from storage.db import read_connection
    from storage.metrics import _SERIES_SQL, MetricSeries

    series = {}
    with read_connection() as conn:
        for name in names:
            rows = conn.exec_driver_sql(_SERIES_SQL, (run_id, name, -(2**62))).fetchall()
            if not rows:
                continue
            steps, values = zip(*rows, strict=True)
            if max_points and len(steps) > max_points:
                keep = list(range(0, len(steps), math.ceil(len(steps) / max_points)))
                if keep[-1] != len(steps) - 1:
                    keep.append(len(steps) - 1)
                steps, values = tuple(steps[i] for i in keep), tuple(values[i] for i in keep)
            series[name] = MetricSeries(name, steps, values)
    return series


def poll_p95(read, pollers: int, seconds: float, interval: float) -> tuple[float, float, int]:  # noqa: ANN001
    """(p50, p95) in ms and the number of polls of `read()` by `pollers` threads over `seconds`."""
    latencies: list[float] = []
    done = threading.Event()

    def poller() -> None:
        while not done.is_set():
            t0 = time.perf_counter()
            read()
            latencies.append(time.perf_counter() - t0)
            if interval:
                done.wait(interval)

    threads = [threading.Thread(target=poller, daemon=True) for _ in range(pollers)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    done.set()
    for t in threads:
        t.join(120)
    flat = [x * 1000 for x in latencies]
    return statistics.median(flat), percentile(flat, 95), len(flat)


def curve_benchmark(pollers: int, points: int, curves: int, seconds: float, interval: float) -> float:
    """Old full read vs SQL thinning on `curves` curves of `points` steps; prints both; returns old/new p95."""
    from storage import jobs, metrics, outputs

    run_id = jobs.create_job("grpo", {}, name="curve benchmark").run_id
    names = [f"curve/{i}" for i in range(curves)]
    for start in range(1, points + 1, 5000):
        steps = range(start, min(points, start + 4999) + 1)
        rows = [r for s in steps for r in metrics.metric_rows(run_id, s, {n: math.sin(s / 300) for n in names})]
        outputs.write_job_output(run_id, rows)
    new = metrics.metric_series(run_id, names, max_points=1000)
    old = old_metric_series(run_id, names, 1000)
    assert all(len(new[n].steps) <= 1000 and new[n].steps[-1] == old[n].steps[-1] for n in names)
    figures = {}
    for label, read in (
        ("old (full read)", lambda: old_metric_series(run_id, names, 1000)),
        ("new (SQL thinning)", lambda: metrics.metric_series(run_id, names, max_points=1000)),
    ):
        p50, p95, polls = poll_p95(read, pollers, seconds, interval)
        figures[label] = p95
        print(f"{label}: {pollers} pollers x {curves} curves of {points} points, {polls} polls, "
              f"p50 {p50:.2f} ms, p95 {p95:.2f} ms")  # fmt: skip
    return figures["old (full read)"] / figures["new (SQL thinning)"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readers", type=int, default=20)
    parser.add_argument("--steps", type=int, default=1000, help="job steps; 11 metric points each")
    parser.add_argument(
        "--interval", type=float, default=0.05, help="seconds each reader waits between polls (0 = tight loop)"
    )
    parser.add_argument("--home", help="LAB_HOME to use (default: a new temp folder)")
    parser.add_argument("--curve-points", type=int, default=30_000, help="steps per curve in the curve benchmark")
    parser.add_argument("--curves", type=int, default=2, help="curves per poll (a Train-tab plot)")
    parser.add_argument("--curve-seconds", type=float, default=10.0, help="seconds each curve method is polled")
    args = parser.parse_args(argv)

    home = Path(args.home or tempfile.mkdtemp(prefix="lab-bench-"))
    os.environ["LAB_HOME"] = str(home)
    os.environ["LAB_JOB_MODULES"] = "tests.test_jobs_kinds"
    from sqlalchemy.exc import OperationalError

    from storage import jobs, metrics
    from training.jobs import submit_job

    job = submit_job("linear_fit", {"steps": args.steps, "dim": 8, "batch": 128, "checkpoint_every": 10})
    latencies: list[list[float]] = [[] for _ in range(args.readers)]
    errors: list[str] = []
    done = threading.Event()

    def reader(i: int) -> None:
        # What a live dashboard does each refresh: the job's row, then a plot's curves or the latest values.
        while not done.is_set():
            t0 = time.perf_counter()
            try:
                jobs.get_job(job.id)
                if i % 2:
                    metrics.metric_series(job.run_id, ["loss", "grad_norm"])
                else:
                    metrics.latest_metrics(job.run_id)
            except OperationalError as error:
                errors.append(str(error))
                continue
            latencies[i].append(time.perf_counter() - t0)
            if args.interval:
                done.wait(args.interval)

    threads = [threading.Thread(target=reader, args=(i,), daemon=True) for i in range(args.readers)]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    t_start = time.perf_counter()
    for t in threads:
        t.start()
    worker = subprocess.Popen(
        [sys.executable, "-m", "training.worker", "--exit-when-idle", "--poll", "0.2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    worker.wait(timeout=1800)
    done.set()
    for t in threads:
        t.join(30)
    elapsed = time.perf_counter() - t_start

    finished = jobs.get_job(job.id)
    points = metrics.count_metrics(job.run_id)
    flat = [x * 1000 for per_thread in latencies for x in per_thread]
    locked = sum("locked" in e for e in errors)
    print(f"job {finished.id}: {finished.status}, {points} metric points in {elapsed:.1f} s (worker + job processes)")
    polls = f"{len(flat)} polls (job row + metrics query)"
    print(f"readers: {args.readers} threads every {args.interval} s, {polls}, {len(errors)} errors")
    print(f'"database is locked" errors: {locked}')
    if flat:
        print(
            f"read latency ms: p50 {statistics.median(flat):.2f}, p95 {percentile(flat, 95):.2f}, "
            f"p99 {percentile(flat, 99):.2f}, max {max(flat):.2f}"
        )
        print(f"p95 read latency: {percentile(flat, 95):.2f} ms")
    ratio = curve_benchmark(args.readers, args.curve_points, args.curves, args.curve_seconds, args.interval)
    print(f"p95 ratio, old full read / SQL thinning, {args.curve_points}-point curves: {ratio:.1f}x")
    return 0 if finished.status == JobStatus.SUCCEEDED and not errors and points >= 5000 else 1


if __name__ == "__main__":
    sys.exit(main())
