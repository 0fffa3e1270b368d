"""`python -m training`: submit/list/show/cancel/resume/logs/run/kinds, and one-line errors with exit status 2."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lab.errors import LabError
from lab.paths import runs_dir
from storage import jobs, metrics, runs
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


# --- the Runs screen's commands: delete, diff, export-metrics (training/run_admin.py) ------------------------------


def _ended_run(config: dict, name: str) -> jobs.JobRecord:
    job = jobs.create_job(KIND, config, name=name)
    assert jobs.claim_next_job(worker_pid=999) is not None
    jobs.finish_job(job.id, "succeeded")
    return jobs.get_job(job.id)


class _Terminal(io.StringIO):
    """Typed answers on a stdin that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_delete_asks_first_and_removes_the_runs_rows_and_files(db: Path, capsys, monkeypatch) -> None:
    kept = _ended_run({"steps": 3}, "kept")
    gone = _ended_run({"steps": 4}, "gone")
    folder = runs_dir() / f"run-{gone.run_id}"
    (folder / "checkpoint-1").mkdir(parents=True)
    (folder / "checkpoint-1" / "weights.bin").write_bytes(b"x" * 10)
    Path(gone.log_path).parent.mkdir(parents=True, exist_ok=True)
    Path(gone.log_path).write_text("log\n")
    metrics.log_metrics(gone.run_id, 1, {"loss": 1.0})
    run_id = str(gone.run_id)

    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))  # piped: no one to ask
    code, out, err = run_main(capsys, "delete", run_id)
    assert (code, out) == (2, "")
    assert err == f"error: run {run_id} not deleted: stdin is not a terminal; pass --yes to delete it\n"
    monkeypatch.setattr(sys, "stdin", _Terminal("n\n"))
    code, out, _ = run_main(capsys, "delete", run_id)
    assert code == 1 and out.startswith(f"Delete run {run_id} (gone): its jobs, metrics,")
    assert "2 file(s) / folder(s)" in out and out.endswith(f"Delete? [y/N] run {run_id} not deleted\n")
    assert folder.is_dir() and runs.get_run(gone.run_id).name == "gone"

    monkeypatch.setattr(sys, "stdin", _Terminal("y\n"))
    code, out, _ = run_main(capsys, "delete", run_id)
    assert code == 0 and out.endswith(f"deleted run {run_id} (gone) and 2 file(s) / folder(s)\n")
    assert not folder.exists() and not Path(gone.log_path).exists()
    with pytest.raises(LabError, match="no run with id"):
        runs.get_run(gone.run_id)
    assert jobs.list_jobs(run_id=gone.run_id) == [] and metrics.metric_series(gone.run_id) == {}
    assert runs.get_run(kept.run_id).name == "kept"
    assert main(["delete", run_id, "--yes"]) == 2
    assert capsys.readouterr().err == f"error: run_id: no run with id {run_id}\n"


def test_delete_refuses_a_run_with_an_active_job(db: Path, capsys) -> None:
    busy = jobs.create_job(KIND, {"steps": 3}, name="busy")
    (runs_dir() / f"run-{busy.run_id}").mkdir()
    code, out, err = run_main(capsys, "delete", str(busy.run_id), "--yes")
    assert (code, out) == (2, "")
    assert err == (
        f"error: run_id: Run {busy.run_id} (busy) is queued (job {busy.id}): cancel it first with "
        f"`python -m training cancel {busy.id}`; a run with an active job cannot be deleted.\n"
    )
    assert jobs.get_job(busy.id).status == "queued" and (runs_dir() / f"run-{busy.run_id}").is_dir()
    assert main(["cancel", str(busy.id)]) == 0
    assert main(["delete", str(busy.run_id), "--yes"]) == 0
    assert jobs.list_jobs() == [] and not (runs_dir() / f"run-{busy.run_id}").exists()


def test_diff_prints_the_fields_that_differ_as_a_table(db: Path, capsys) -> None:
    _ended_run({"steps": 3, "lr": 0.05, "opt": {"beta": 0.9}}, "a")
    _ended_run({"steps": 30, "lr": 0.05, "opt": {"beta": 0.99}}, "b")
    _ended_run({"steps": 3, "lr": 0.05, "opt": {"beta": 0.9}, "note": "é"}, "c")
    code, out, _ = run_main(capsys, "diff", "1", "2")
    assert code == 0
    assert out.splitlines() == ["FIELD     RUN 1  RUN 2", "opt.beta  0.9    0.99", "steps     3      30"]
    code, out, _ = run_main(capsys, "diff", "1", "2", "3")
    assert out.splitlines() == [
        "FIELD     RUN 1  RUN 2  RUN 3",
        'note      —      —      "é"',
        "opt.beta  0.9    0.99   0.9",
        "steps     3      30     3",
    ]
    assert run_main(capsys, "diff", "1", "1")[1] == "runs 1, 1 have the same kind and config\n"
    code, _, err = run_main(capsys, "diff", "1", "99")
    assert code == 2 and err == "error: run_id: no run with id 99\n"


def test_export_metrics_is_the_runs_screens_download(db: Path, tmp_path: Path, capsys) -> None:
    from ui import run_table

    run = _ended_run({"steps": 3}, "fit")
    for step in (1, 2, 3):
        metrics.log_metrics(run.run_id, step, {"loss": 1 / step, "lr": 0.05})
    target = tmp_path / "m.csv"
    code, out, _ = run_main(capsys, "export-metrics", "1", "--output", str(target))
    assert code == 0 and out == f"wrote run 1's metrics (csv) to {target}\n"
    assert target.read_bytes() == Path(run_table.export_metrics(1, "csv")).read_bytes()
    assert target.read_bytes().startswith(b"step,name,value\r\n1,loss,1.0\r\n2,loss,0.5\r\n")
    code, out, _ = run_main(capsys, "export-metrics", "1")  # csv to stdout: the same text
    assert code == 0 and out == Path(run_table.export_metrics(1, "csv")).read_bytes().decode()
    printed = cli("export-metrics", "1", "--format", "json")  # a process of its own, real stdout
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == Path(run_table.export_metrics(1, "json")).read_text()
    assert json.loads(printed.stdout)["loss"]["steps"] == [1, 2, 3]

    code, _, err = run_main(capsys, "export-metrics", "1", "--format", "xml")
    assert code == 2 and err == "error: format: must be csv or json, got 'xml'\n"
    empty = _ended_run({}, "empty")
    code, _, err = run_main(capsys, "export-metrics", str(empty.run_id), "-o", str(tmp_path / "e.csv"))
    assert code == 2 and err == f"error: run {empty.run_id} has no stored metrics\n"
    assert not (tmp_path / "e.csv").exists()
