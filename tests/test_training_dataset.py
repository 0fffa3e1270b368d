"""The dataset job: curriculum rows L1..LN per seed task, math mixed in, deterministic, counted, refused when bad."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.errors import LabError
from tests.recording_context import RecordingContext
from training.dataset_job import DatasetConfig, build_rows, dataset_stats, load_tasks
from training.dataset_job import run as run_dataset
from training.registry import parse_config


def _config(**values) -> DatasetConfig:
    return parse_config(DatasetConfig, {"num_tasks": 8, "max_constraints": 3, "math_ratio": 0.25, **values})


def test_every_task_gives_levels_1_to_n_that_extend_each_other() -> None:
    config = _config(shuffle=False)
    rows = build_rows(config, load_tasks(config))
    groups: dict[str, dict[int, dict]] = {}
    for row in rows:
        if row["source"] == "curriculum":
            groups.setdefault(row["group_id"], {})[row["level"]] = row
    assert len(groups) == 8
    for levels in groups.values():
        assert sorted(levels) == [1, 2, 3]
        for k in (2, 3):
            low, high = levels[k - 1], levels[k]
            assert high["instruction_id_list"][:-1] == low["instruction_id_list"]
            assert high["kwargs"][:-1] == low["kwargs"]
            assert high["prompt"].startswith(low["prompt"])
            assert high["task"] == low["task"]


def test_math_items_are_mixed_in_at_the_ratio() -> None:
    config = _config(math_ratio=0.25)
    rows = build_rows(config, load_tasks(config))
    math = [r for r in rows if r["source"] == "math"]
    assert len(math) == round(24 * 0.25 / 0.75)  # 8 tasks x 3 levels = 24 curriculum rows
    assert all(r["answer"].lstrip("-").isdigit() and "\\boxed" in r["prompt"] for r in math)
    assert build_rows(_config(math_ratio=0.0), load_tasks(config)) and not [
        r for r in build_rows(_config(math_ratio=0.0), load_tasks(config)) if r["source"] == "math"
    ]


def test_math_share_from_the_arith_templates_rewarded_by_the_last_number() -> None:
    from lab.arith_problems import generate_arith_problems
    from lab.math_problems import problem_split
    from lab.reward import breakdown
    from lab.trl_reward import make_trl_reward
    from lab.verl_reward import compute_score
    from training.export import verl_row
    from training.grpo_job import training_rows

    config = _config(math_problems="arith", math_answer="last_number")
    rows = build_rows(config, load_tasks(config))
    math = [r for r in rows if r["source"] == "math"]
    assert len(math) == 8 and all(r["answer_match"] == "last_number" for r in math)
    assert sorted(r["task"] for r in math) == sorted(p.question for p in generate_arith_problems(8, split="train"))
    assert all(problem_split(r["task"]) == "train" for r in math)  # never a probe question
    row = math[0]
    said = f"That makes {row['answer']} in all."
    assert breakdown(row, said).reward == 1.0 and "last number" in breakdown(row, said).label
    assert breakdown(row, f"{row['answer']}, or maybe 1000").reward == 0.0  # the last number counts
    boxed_only = {k: v for k, v in row.items() if k != "answer_match"}
    assert breakdown(boxed_only, said).reward == 0.0  # the default still wants \\boxed{}
    assert not any("answer_match" in r for r in build_rows(_config(), load_tasks(config)))
    # The column reaches GRPO's reward function.
    columns = training_rows(math[:2], chat=True, soft_scored=False)
    reward = make_trl_reward()
    texts = [f"So {r['answer']}." for r in math[:2]]
    assert reward(columns["prompt"], texts, **{k: v for k, v in columns.items() if k != "prompt"}) == [1.0, 1.0]
    # ... and verl's reward function, through the exported row.
    exported = verl_row(row, 0, "train")
    truth = exported["reward_model"]["ground_truth"]
    assert json.loads(truth) == {"answer": row["answer"], "answer_match": "last_number"}
    assert compute_score(exported["data_source"], said, truth, exported["extra_info"])["score"] == 1.0


def test_same_seed_same_bytes_other_seed_other_rows(tmp_path: Path) -> None:
    outputs = []
    for i, seed in enumerate((3, 3, 4)):
        ctx = RecordingContext(tmp_path / f"run{i}")
        result = run_dataset(_config(seed=seed), ctx)
        outputs.append(Path(result["path"]).read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0] != outputs[2]


def test_job_writes_a_versioned_file_and_registers_counts(tmp_path: Path) -> None:
    ctx = RecordingContext(tmp_path / "run")
    result = run_dataset(_config(name="mine"), ctx)
    path = Path(result["path"])
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    name, registered_path, meta = ctx.datasets[0]
    assert name == "mine" and registered_path == path
    assert path.name.startswith("mine-") and meta["sha256"].startswith(path.stem.split("-")[1])
    assert meta["levels"] == {"1": 8, "2": 8, "3": 8}
    assert sum(meta["constraint_types"].values()) == sum(len(r["instruction_id_list"]) for r in rows)
    assert meta["kinds"]["hard"] + meta["kinds"]["soft"] == sum(meta["constraint_types"].values())
    assert meta["rows"] == len(rows) and meta["math_rows"] == sum(r["source"] == "math" for r in rows)
    assert ctx.progress_calls[-1][0] == ctx.progress_calls[-1][1]


def test_soft_ratio_include_and_curriculum_off() -> None:
    allowed = {"punctuation:no_comma", "keywords:existence", "detectable_content:postscript"}
    config = _config(soft_ratio=0.0, include_types=sorted(allowed), curriculum=False)
    rows = build_rows(config, load_tasks(config))
    stats = dataset_stats(rows)
    assert stats["kinds"]["soft"] == 0
    assert set(stats["constraint_types"]) == allowed
    assert stats["levels"] == {"3": 8}
    soft_only = build_rows(_config(soft_ratio=1.0, math_ratio=0.0), load_tasks(config))
    assert dataset_stats(soft_only)["kinds"]["hard"] == 0


def test_user_seed_tasks_file(tmp_path: Path) -> None:
    path = tmp_path / "tasks.jsonl"
    path.write_text("\n".join(json.dumps({"task": f"Write about topic {i}."}) for i in range(3)) + "\n")
    config = _config(seed_tasks_file=str(path), num_tasks=0, math_ratio=0.0)
    rows = build_rows(config, load_tasks(config))
    assert {r["task"] for r in rows} == {f"Write about topic {i}." for i in range(3)}


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"max_constraints": 0}, "max_constraints"),
        ({"soft_ratio": 1.5}, "soft_ratio"),
        ({"math_ratio": 1.0}, "math_ratio"),
        ({"math_problems": "algebra"}, "math_problems"),
        ({"math_answer": "closest"}, "math_answer"),
        ({"num_tasks": -1}, "num_tasks"),
        ({"include_types": ["no:such_type"]}, "include_types"),
        ({"include_types": ["punctuation:no_comma", "keywords:existence"]}, "include_types"),
        ({"seed_tasks_file": "/no/such/file.jsonl"}, "seed_tasks_file"),
        ({"name": " "}, "name"),
    ],
)
def test_bad_config_is_refused_naming_the_field(values: dict, field: str) -> None:
    with pytest.raises(LabError) as error:
        parse_config(DatasetConfig, values)
    assert error.value.field == field
