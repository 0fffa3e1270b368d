"""`python -m training`: submit/list/show/cancel/resume/logs/run/kinds, and one-line errors with exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from storage import jobs, metrics
from tests.test_jobs_kinds import KIND, ROOT, job_env
from training.cli import main


@pytest.fixture
def db(jobs_db: Path) -> Path:
    return jobs_db


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "training", *args],
        cwd=ROOT,
        env=job_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_main(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_submit_list_show_cancel_resume_logs_through_a_worker(db: Path, tmp_path: Path, capsys) -> None:
    config = tmp_path / "fit.yaml"
    config.write_text("# linear_fit settings\nsteps: 500\nlr: 0.05\ncheckpoint_every: 5\n")
    out = cli("submit", KIND, "--config", str(config), "--set", "steps=25", "--name", "cli run")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("queued job 1 (run 1, linear_fit)")

    code, listing, _ = run_main(capsys, "list")
    assert code == 0 and "linear_fit" in listing and "queued" in listing
    shown = run_main(capsys, "show", "1")[1]
    assert "'cli run'" in shown and "steps: 25" in shown and "lr: 0.05" in shown

    assert "cancelled (it had not started)" in run_main(capsys, "cancel", "1")[1]
    code, resumed, _ = run_main(capsys, "resume", "1")
    assert code == 0 and "queued job 2: attempt 2 of run 1" in resumed
    assert "is queued" in run_main(capsys, "logs", "2")[2]

    worker = subprocess.run(
        [sys.executable, "-m", "training.worker", "--exit-when-idle", "--poll", "0.2"],
        cwd=ROOT,
        env=job_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode == 0, worker.stdout + worker.stderr
    assert jobs.get_job(2).status == "succeeded"
    followed = run_main(capsys, "logs", "2", "--follow")[1]
    assert "[job 2] linear_fit, run 1, attempt 2" in followed and "[job 2] succeeded" in followed
    shown = run_main(capsys, "show", "2")[1]
    assert "succeeded" in shown and "loss =" in shown and "resumes job 1" in shown
    assert metrics.metric_series(1, ["loss"])["loss"].steps == tuple(range(1, 26))


def test_run_in_the_foreground_uses_the_same_checks_and_code(db: Path) -> None:
    out = cli("run", KIND, "--set", "steps=30", "--set", "checkpoint_every=10")
    assert out.returncode == 0, out.stderr
    assert "job 1 (run 1) succeeded" in out.stdout
    assert metrics.metric_series(1, ["loss"])["loss"].steps == tuple(range(1, 31))
    refused = cli("run", KIND, "--set", "steps=0")
    assert refused.returncode == 2 and refused.stderr.strip() == "error: steps: must be >= 1, got 0"
    assert len(jobs.list_jobs()) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["submit", KIND, "--set", "stepz=3"], "error: stepz: unknown field 'stepz'; allowed fields: steps, dim,"),
        (["submit", KIND, "--set", "steps=many"], "error: steps: must be an integer, got 'many'"),
        (["submit", KIND, "--set", "steps"], "error: set: --set needs key=value, got 'steps'"),
        (["submit", "generate", "--set", "checkpoint=41"], "error: checkpoint: no stored checkpoint with id 41"),
        (["submit", "nonsense"], "error: kind: unknown job kind 'nonsense'; allowed:"),
        (["submit", KIND, "--config", "/no/such.yaml"], "error: config: cannot read /no/such.yaml"),
        (["show", "99"], "error: job_id: no job with id 99"),
        (["resume", "99"], "error: job_id: no job with id 99"),
        (["cancel", "99"], "error: job_id: no job with id 99"),
    ],
)
def test_mistakes_print_one_line_and_exit_2(db: Path, capsys, argv: list[str], message: str) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(message)
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert jobs.list_jobs() == []


def test_bad_yaml_and_finished_jobs(db: Path, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    assert main(["submit", KIND, "--config", str(bad)]) == 2
    assert "must be a mapping" in capsys.readouterr().err
    assert main(["submit", KIND, "--set", "steps=3"]) == 0
    assert main(["cancel", "1"]) == 0
    capsys.readouterr()
    assert main(["cancel", "1"]) == 2
    assert "already ended (cancelled)" in capsys.readouterr().err
    assert main(["show", "1"]) == 0


def test_kinds_documents_the_yaml_keys(db: Path, capsys) -> None:
    assert main(["kinds", "generate"]) == 0
    text = capsys.readouterr().out
    for field in ("model", "checkpoint", "prompts", "batch_size", "max_new_tokens", "temperature", "seed", "limit"):
        assert f"  {field} (" in text
    assert "Sampling temperature; 0 = greedy." in text


def test_pipeline_and_export_subcommands_are_dispatched(lab_home, capsys):
    from training.cli import main

    assert main(["pipeline", "no-such-preset"]) == 2
    assert "no-such-preset" in capsys.readouterr().err
    assert main(["export", "verl", str(lab_home / "out"), "--dataset", "424242"]) != 0
    assert "424242" in capsys.readouterr().err


def test_a_preset_file_gives_the_section_of_the_kind(tmp_path):
    from training.cli import _read_config

    preset = tmp_path / "p.yaml"
    preset.write_text("description: x\ndataset:\n  seed: 3\ngrpo:\n  steps: 2\n", encoding="utf-8")
    assert _read_config(str(preset), ["steps=5"], "grpo") == {"steps": 5}
    assert _read_config(str(preset), [], "dataset") == {"seed": 3}
