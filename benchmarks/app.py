"""App benchmarks: cold start to first page, and scoring a pasted response (hard constraints only).

`python benchmarks/app.py [--starts 3] [--scores 200]`. Cold start: `python app.py` from process start until `/`
answers 200 (fresh $LAB_HOME, no worker), median of --starts. Scoring: the Score button's server-side handler
(breakdown + table + chart) in process, and the same over HTTP: Gradio's REST API for the `score_row` endpoint
(POST /gradio_api/call/score_row, then read the result stream; the queue included), p50 and p95. Train tab: one
full refresh (progress, stages, five charts, samples) watching a 1k-step and a 30k-step run of 50 metrics each.
Targets: cold start < 8 s, scoring p50 < 50 ms, refresh time ratio 30k/1k < 2 (charts read O(points shown)).
The last two lines print the figures; the last one is the refresh cost.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TASK = "Write a short travel note about Lisbon."
ITEMS = [
    {"type_id": "punctuation:no_comma", "params": {}},
    {"type_id": "keywords:existence", "params": {"keywords": ["tram", "river"]}},
    {"type_id": "length_constraints:number_words", "params": {"num_words": 300, "relation": "less than"}},
    {"type_id": "detectable_format:number_bullet_lists", "params": {"num_bullets": 3}},
    {"type_id": "change_case:english_lowercase", "params": {}},
]
RESPONSE = (
    "lisbon rewards slow walkers.\n"
    "* ride the old yellow tram up the hills at dawn\n"
    "* eat custard tarts by the river in belem\n"
    "* watch the sunset from a miradouro with a local wine\n"
    + " ".join(["the city hums quietly while the tram bells ring and the river shines."] * 12)
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def cold_start(starts: int) -> list[float]:
    import subprocess

    from tests.app_server import free_port, wait_until_up

    times = []
    for _ in range(starts):
        with tempfile.TemporaryDirectory() as home:
            port = free_port()
            env = {**os.environ, "LAB_HOME": home, "LAB_NO_WORKER": "1", "LAB_PORT": str(port)}
            started = time.monotonic()
            process = subprocess.Popen(
                [sys.executable, "app.py"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            try:
                wait_until_up(f"http://127.0.0.1:{port}/", process, timeout_s=120)
                times.append(time.monotonic() - started)
            finally:
                process.terminate()
                process.wait(timeout=30)
    return times


def score_in_process(n: int) -> list[float]:
    from ui.compose import on_score

    on_score(ITEMS, TASK, RESPONSE, "strict", "")  # warm: first use imports plotly and compiles regexes
    times = []
    for _ in range(n):
        t = time.perf_counter()
        table, aggregate, *_ = on_score(ITEMS, TASK, RESPONSE, "strict", "")
        times.append(time.perf_counter() - t)
    assert len(table) == len(ITEMS) and aggregate.startswith("reward"), aggregate
    return times


def _rest_call(url: str, row: dict) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps({"data": [row, RESPONSE, "strict"]}).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        event_id = json.loads(response.read())["event_id"]
    with urllib.request.urlopen(f"{url}/{event_id}", timeout=30) as response:
        stream = response.read().decode()
    # Server-sent events: "event: complete" then "data: [result]".
    lines = stream.splitlines()
    at = lines.index("event: complete")
    return json.loads(lines[at + 1].removeprefix("data: "))[0]


def score_over_http(n: int) -> list[float]:
    import subprocess

    from tests.app_server import free_port, wait_until_up
    from ui.compose_state import compose_row

    row = compose_row(ITEMS, TASK)
    with tempfile.TemporaryDirectory() as home:
        port = free_port()
        env = {**os.environ, "LAB_HOME": home, "LAB_NO_WORKER": "1", "LAB_PORT": str(port)}
        process = subprocess.Popen(
            [sys.executable, "app.py"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_until_up(f"http://127.0.0.1:{port}/", process, timeout_s=120)
            url = f"http://127.0.0.1:{port}/gradio_api/call/score_row"
            _rest_call(url, row)
            times = []
            for _ in range(n):
                t = time.perf_counter()
                result = _rest_call(url, row)
                times.append(time.perf_counter() - t)
            assert len(result["results"]) == len(ITEMS)
            return times
        finally:
            process.terminate()
            process.wait(timeout=30)


def _fake_grpo_run(steps: int, names: int = 50) -> int:
    """A finished GRPO run with `steps` × `names` stored metrics and a few samples, written in bulk."""
    from storage import jobs, metrics, samples
    from storage.db import write_connection

    job = jobs.create_job("grpo", {"steps": steps}, name=f"bench {steps} steps")
    names_list = ["reward", "kl", "entropy", "completions/mean_length", "constraints/hard_pass_rate"]
    names_list += [f"constraints/type_{i}" for i in range(names - len(names_list))]
    with write_connection() as conn:
        for start in range(1, steps + 1, 2000):
            rows = []
            for step in range(start, min(steps, start + 1999) + 1):
                rows += metrics.metric_rows(job.run_id, step, {n: (step % 97) / 97 for n in names_list}, step * 1.0)
            metrics.upsert_rows(conn, rows)
    samples.add_samples(job.run_id, steps, [{"prompt": "p", "response": "r", "breakdown": {}}] * 8)
    return job.id


def train_refresh(steps_list: tuple[int, ...] = (1_000, 30_000), repeats: int = 5) -> dict[int, float]:
    """Median seconds of one full Train-tab refresh (charts redrawn: no refresh key) watching a run of N steps."""
    from storage.db import dispose_engine
    from ui.train import refresh

    out = {}
    with tempfile.TemporaryDirectory() as home:
        os.environ["LAB_HOME"] = home
        for steps in steps_list:
            job_id = _fake_grpo_run(steps)
            refresh(str(job_id), None, 0.0)  # warm: plotly import, first queries
            times = []
            for _ in range(repeats):
                t = time.perf_counter()
                refresh(str(job_id), None, 0.0)
                times.append(time.perf_counter() - t)
            out[steps] = statistics.median(times)
        dispose_engine()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--starts", type=int, default=3, help="cold starts to time (median reported)")
    parser.add_argument("--scores", type=int, default=200, help="scoring calls to time")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

    starts = cold_start(args.starts)
    print(
        f"cold start to first page: {', '.join(f'{s:.2f}' for s in starts)} s (median {statistics.median(starts):.2f})"
    )
    handler = [1000 * t for t in score_in_process(args.scores)]
    print(f"score handler: p50 {percentile(handler, 0.5):.2f} ms, p95 {percentile(handler, 0.95):.2f} ms")
    http = [1000 * t for t in score_over_http(max(20, args.scores // 4))]
    p50, p95 = percentile(http, 0.5), percentile(http, 0.95)
    print(f"score over HTTP (REST /gradio_api/call/score_row): p50 {p50:.2f} ms, p95 {p95:.2f} ms")
    print(
        f"cold_start_s={statistics.median(starts):.2f} (target < 8) "
        f"score_p50_ms={percentile(handler, 0.5):.1f} handler, {percentile(http, 0.5):.1f} over HTTP (target < 50)"
    )
    refresh_s = train_refresh()
    (small, t_small), (large, t_large) = sorted(refresh_s.items())
    print(
        f"train_refresh_ms={1000 * t_small:.0f} ({small:,} steps) vs {1000 * t_large:.0f} ({large:,} steps), "
        f"ratio {t_large / t_small:.2f} for {large // small}x the steps (O(points shown): target < 2)"
    )


if __name__ == "__main__":
    main()
