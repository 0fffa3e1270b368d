"""Storage under load: 20 reader threads poll a job's state and metrics while a real worker runs a job that
writes thousands of metric points. Prints read-latency percentiles; the last line is the p95 figure.

    .venv/bin/python benchmarks/storage.py [--readers 20] [--steps 1000] [--interval 0.05]

Each reader polls every --interval seconds (a live UI refreshes about once a second; 0.05 s is 20x that).
Latency is wall time per poll in the reader thread, so it includes waiting for Python's GIL among readers.

The job is `linear_fit` (pure-Python SGD, 11 metrics per step, a checkpoint + flush every 10 steps) from
tests/test_jobs_kinds.py, run by `python -m training.worker` in its own processes, as in the app.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readers", type=int, default=20)
    parser.add_argument("--steps", type=int, default=1000, help="job steps; 11 metric points each")
    parser.add_argument(
        "--interval", type=float, default=0.05, help="seconds each reader waits between polls (0 = tight loop)"
    )
    parser.add_argument("--home", help="LAB_HOME to use (default: a new temp folder)")
    args = parser.parse_args(argv)

    home = Path(args.home or tempfile.mkdtemp(prefix="lab-bench-"))
    os.environ["LAB_HOME"] = str(home)
    os.environ["LAB_JOB_MODULES"] = "tests.test_jobs_kinds"
    from sqlalchemy.exc import OperationalError

    from storage import init_db, jobs, metrics
    from training.jobs import submit_job

    init_db()
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
    return 0 if finished.status == "succeeded" and not errors and points >= 5000 else 1


if __name__ == "__main__":
    sys.exit(main())
