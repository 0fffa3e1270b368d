"""Input bounds and one-line failures: non-finite floats, out-of-range ints (refused at submit with the field
named, in the CLI and in the UI widgets alike), malformed YAML, and a corrupt database in the CLI and the app."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from lab.errors import LabError
from lab.random_seed import MAX_SEED
from storage import jobs
from tests.test_jobs_kinds import KIND, ROOT, LinearFitConfig, job_env
from training.jobs import submit_job
from training.registry import MAX_INT, all_kinds, field_bounds, numeric_type, parse_config


def _training(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "training", *args],
        cwd=ROOT,
        env=env or job_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("kind", "values", "message"),
    [
        ("grpo", {"learning_rate": float("nan")}, "learning_rate: must be a finite number, got nan"),
        ("grpo", {"learning_rate": "nan"}, "learning_rate: must be a finite number, got nan"),
        ("grpo", {"temperature": float("inf")}, "temperature: must be a finite number, got inf"),
        ("reward_model", {"top_p": "-inf"}, "top_p: must be a finite number, got -inf"),
        ("grpo", {"beta": 10**400}, "beta: must be a finite number, got an integer of 1329 bits"),
        ("grpo", {"steps": 10**20}, "steps: must be >= 1 and <= 1,000,000, got 1e+20"),
        ("grpo", {"learning_rate": 2}, "learning_rate: must be >= 0 and <= 1, got 2"),
        ("generate", {"max_new_tokens": 10**9}, "max_new_tokens: must be >= 1 and <= 32,768, got 1,000,000,000"),
        ("evaluate", {"seed": -1}, "seed: must be >= 0 and <= 4,294,967,295, got -1"),
        ("evaluate", {"limit": 0}, "limit: must be >= 1 and <= 1,000,000, got 0"),
        ("dataset", {"soft_ratio": 1.5}, "soft_ratio: must be >= 0 and <= 1, got 1.5"),
    ],
)
def test_non_finite_and_out_of_range_numbers_are_refused_at_submit(
    db: Path, kind: str, values: dict, message: str
) -> None:
    with pytest.raises(LabError) as caught:
        submit_job(kind, values)
    assert str(caught.value) == message and caught.value.field == next(iter(values))
    assert jobs.list_jobs() == []  # nothing queued, nothing reached SQLite


def test_every_numeric_config_field_has_bounds_its_default_respects() -> None:
    kinds = [k for k in all_kinds() if k.config_cls.__module__.startswith("training.")]
    assert {k.name for k in kinds} >= {"dataset", "reward_model", "grpo", "evaluate", "generate"}
    for kind in kinds:
        hints = typing.get_type_hints(kind.config_cls)
        for f in dataclasses.fields(kind.config_cls):
            if numeric_type(hints[f.name]) is None:
                continue
            if f.name not in ("checkpoint", "reward_model"):  # stored ids: the int64-safe default is enough
                assert {"min", "max"} <= set(f.metadata), f"{kind.name}.{f.name} has no bounds"
            low, high = field_bounds(f, hints[f.name])
            assert -MAX_INT <= low <= high <= MAX_INT
            if f.default is not None:
                assert low <= f.default <= high, f"{kind.name}.{f.name}"
            if f.name == "seed":
                assert (low, high) == (0, MAX_SEED)


def test_ints_without_own_bounds_stay_int64_safe(jobs_db: Path) -> None:
    # The test kind's `steps` has no min/max metadata: the global bound still refuses it before SQLite does.
    done = _training("submit", KIND, "--set", "steps=100000000000000000000")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: steps: must be >= -9,007,199,254,740,991 and <= 9,007,199,254,740,991, got 1e+20"
    )
    assert jobs.list_jobs() == []
    assert parse_config(LinearFitConfig, {"steps": MAX_INT}).steps == MAX_INT


def test_train_form_and_compare_widgets_carry_the_same_bounds() -> None:
    from ui import config_form as form

    steps = next(s for s in form.stage_fields("grpo") if s.name == "steps")
    assert (steps.minimum, steps.maximum) == (1, 1_000_000) and "Allowed: 1 to 1,000,000." in steps.help
    widget = form.make_widget(steps)
    assert (widget.minimum, widget.maximum) == (1, 1_000_000)
    with pytest.raises(Exception, match="maximum"):  # Gradio refuses it server-side too, before our handler runs
        widget.preprocess(10**9)
    lr = form.make_widget(next(s for s in form.stage_fields("grpo") if s.name == "learning_rate"))
    assert (lr.minimum, lr.maximum) == (0.0, 1.0)


def test_compare_max_new_tokens_widget_is_bounded(db: Path) -> None:
    import gradio as gr

    from ui import compare

    with gr.Blocks() as demo, gr.Tab("Compare") as tab:
        compare.build(demo, tab, (gr.State(), gr.Textbox()))
    numbers = {c.elem_id: c for c in demo.blocks.values() if isinstance(c, gr.Number)}
    tokens = numbers["compare-max-tokens"]
    assert (tokens.minimum, tokens.maximum) == (1, 32768)
    with pytest.raises(Exception, match="maximum"):
        tokens.preprocess(1_000_000_000)


def test_malformed_yaml_is_one_line_naming_file_and_line(jobs_db: Path, tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("steps: 3\nlr: [0.1\ndim: 2\n")
    done = _training("run", KIND, "-c", str(config))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith(f"error: config: {config}: not valid YAML at line ")

    preset = tmp_path / "preset.yaml"
    preset.write_text("dataset:\n  num_tasks: 3\n   seed: 1\n")
    done = _training("pipeline", str(preset))
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: preset: {preset}: not valid YAML at line 3, column 8 (mapping values are not allowed here)"
    ]


def _corrupt_home(tmp_path: Path, how: str) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    database = home / "lab.sqlite"
    if how == "random":
        database.write_bytes(os.urandom(20_000))
    else:  # a real database cut in half
        done = _training("list", env={**job_env(), "LAB_HOME": str(home)})
        assert done.returncode == 0, done.stderr
        size = database.stat().st_size
        with database.open("r+b") as handle:
            handle.truncate(size // 2)
        for suffix in ("-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
    return home


@pytest.mark.parametrize("how", ["random", "truncated"])
def test_corrupt_database_is_one_line_in_the_cli(tmp_path: Path, how: str) -> None:
    home = _corrupt_home(tmp_path, how)
    done = _training("list", env={**job_env(), "LAB_HOME": str(home)})
    assert done.returncode != 0 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: the database {home / 'lab.sqlite'} is damaged or not an SQLite file")
    assert "move it aside" in lines[0] and "restore it from a backup" in lines[0]


def test_corrupt_database_is_one_line_at_app_start_up(tmp_path: Path) -> None:
    home = _corrupt_home(tmp_path, "random")
    env = {**os.environ, "LAB_HOME": str(home), "LAB_NO_WORKER": "1", "LAB_HOST": "127.0.0.1", "LAB_PORT": "0"}
    done = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    assert done.stderr.strip().splitlines()[-1].startswith(f"error: the database {home / 'lab.sqlite'} is damaged")
