"""References in job configs: the one "run:<id>" vocabulary (storage/refs.py, re-exported by training.refs)
and the dataset / checkpoint syntax of training.refs, which the generate job accepts too."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from lab.errors import LabError
from storage import checkpoints, datasets, jobs
from storage import refs as run_refs
from training import refs

ROOT = Path(__file__).resolve().parent.parent


def test_run_references_parse_one_way() -> None:
    assert refs.run_ref is run_refs.run_ref and refs.RUN_PREFIX == run_refs.RUN_PREFIX == "run:"
    assert refs.run_ref("run:7") == 7 and refs.run_ref("  run: 7 ") == 7
    for malformed in ("run:", "run:x", "run:<grpo stage>", "run:-3", "run:²", "run:7.0"):
        assert refs.run_ref(malformed) == refs.MALFORMED_RUN_REF, malformed
    for other in ("7", "Run:7", "runs:7", "dataset:7", "", None, 7, ["run:7"]):
        assert refs.run_ref(other) is None, other
    assert refs.format_run_ref(12) == "run:12" and refs.run_ref(refs.format_run_ref(12)) == 12
    assert refs.run_ids_in(["run:3", "run:x", 5, "run: 4", None, "a"]) == [3, 4]


def test_run_prefix_is_defined_once() -> None:
    """No package spells its own RUN_PREFIX; layers import storage/refs.py's (training.refs re-exports it)."""
    found = []
    for package in ("app.py", "ui", "training", "evals", "lab", "storage"):
        paths = [ROOT / package] if package.endswith(".py") else sorted((ROOT / package).rglob("*.py"))
        for path in paths:
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                targets = node.targets if isinstance(node, ast.Assign) else []
                if any(isinstance(t, ast.Name) and t.id == "RUN_PREFIX" for t in targets):
                    found.append(str(path.relative_to(ROOT)))
    assert found == ["storage/refs.py"]


def test_evaluate_expands_run_references_with_the_same_parser(db: Path, tmp_path: Path) -> None:
    from evals.targets import expand_refs

    run = jobs.create_job("grpo", {})
    for step in (1, 2):
        (tmp_path / f"s{step}").mkdir()
        checkpoints.register_checkpoint(run.run_id, step, tmp_path / f"s{step}")
    ids = [str(c.id) for c in checkpoints.list_checkpoints(run.run_id)]
    assert sorted(expand_refs([f"run: {run.run_id}", "bundled"])) == sorted([*ids, "bundled"])
    with pytest.raises(LabError, match="a run reference is 'run:<id>'") as error:
        expand_refs(["run:x"])
    assert error.value.field == "checkpoints"


def test_stored_ids_and_their_messages(db: Path, tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"prompt": "Hi"}) + "\n\n")
    source = jobs.create_job("dataset", {})
    dataset = datasets.register_dataset("d", rows, run_id=source.run_id)
    for ref in (str(dataset), f"dataset:{dataset}", f" dataset:{dataset} ", f"run:{source.run_id}", str(rows)):
        assert refs.resolve_dataset(ref) == rows, ref
    assert refs.dataset_id(f"dataset:{dataset}") == dataset and refs.dataset_id("dataset:x") is None
    with pytest.raises(LabError, match="expected 'run:<run id>', got 'run:x'") as error:
        refs.resolve_dataset("run:x", "prompts")
    assert error.value.field == "prompts"
    folder = tmp_path / "ckpt"
    folder.mkdir()
    checkpoint = checkpoints.register_checkpoint(source.run_id, 1, folder)
    assert refs.resolve_checkpoint(checkpoint, "checkpoint") == refs.resolve_checkpoint(str(checkpoint), "c") == folder
    with pytest.raises(LabError, match="^checkpoint: no stored checkpoint with id 999$"):
        refs.resolve_checkpoint(999, "checkpoint")
    folder.rmdir()
    with pytest.raises(LabError, match="no longer exists") as error:
        refs.resolve_checkpoint(checkpoint, "reward_model")
    assert error.value.field == "reward_model"


def test_read_rows_names_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a"}\nnot json\n')
    with pytest.raises(LabError, match="bad.jsonl line 2 is not JSON") as error:
        refs.read_rows(bad, "prompts")
    assert error.value.field == "prompts"
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(b'{"prompt": "caf\xe9"}\n')
    with pytest.raises(LabError, match="not UTF-8") as error:
        refs.read_rows(latin)
    assert error.value.field == "dataset"


# ---------------------------------------------------------------- the generate job speaks the same syntax


def _generate_check(values: dict) -> dict:
    from training.jobs import check_config

    return check_config("generate", {"model": "bundled", **values})[1]


def test_generate_prompts_take_every_dataset_reference(db: Path, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from training.generate_job import prompt_rows

    rows = [{"prompt": f"Say {i}.", "instruction_id_list": []} for i in range(3)]
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    parquet = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    source = jobs.create_job("dataset", {})
    dataset = datasets.register_dataset("d", jsonl, run_id=source.run_id)
    for ref in (f"dataset:{dataset}", str(dataset), f"run:{source.run_id}", str(jsonl), str(parquet)):
        assert _generate_check({"prompts": ref})["prompts"] == ref
        assert prompt_rows(ref, limit=2) == rows[:2], ref
    assert [r["key"] for r in prompt_rows("seed:heldout", limit=2)] and prompt_rows("suite:heldout-if", limit=1)


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"prompts": "dataset:999"}, "prompts", "no dataset with id 999"),
        ({"prompts": "dataset:x"}, "prompts", "neither a prompt set nor an existing file"),
        ({"prompts": "run:x"}, "prompts", "expected 'run:<run id>'"),
        ({"prompts": "run:999"}, "prompts", "no run with id 999"),
        ({"model": "run:x"}, "model", "expected 'run:<run id>'"),
        ({"model": "999"}, "model", "no stored checkpoint with id 999"),
        ({"checkpoint": 999}, "checkpoint", "no stored checkpoint with id 999"),
    ],
)
def test_generate_refuses_bad_references_naming_the_field(db: Path, values: dict, field: str, words: str) -> None:
    with pytest.raises(LabError) as error:
        _generate_check(values)
    assert error.value.field == field and words in str(error.value), str(error.value)


def test_generate_needs_a_dataset_run_and_a_prompt_in_every_row(db: Path, tmp_path: Path) -> None:
    from training.generate_job import prompt_rows

    other = jobs.create_job("generate", {})
    with pytest.raises(LabError, match="a dataset run is needed") as error:
        _generate_check({"prompts": f"run:{other.run_id}"})
    assert error.value.field == "prompts"
    blank = tmp_path / "blank.jsonl"
    blank.write_text('{"prompt": "ok"}\n\n{"prompt": "  "}\n')
    with pytest.raises(LabError, match="blank.jsonl row 2 needs a non-empty string 'prompt'"):
        prompt_rows(str(blank))
