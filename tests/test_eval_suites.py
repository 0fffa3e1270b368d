"""Eval suites: the held-out IF suite and math probe are fixed, held out and well formed; IFEval files keep
their good rows and list the bad ones by line and field."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from evals.suites import (
    ARITH_PROBE,
    HELDOUT_IF,
    MATH_PROBE,
    arith_probe_suite,
    heldout_if_suite,
    load_ifeval_file,
    load_suite,
    math_probe_suite,
)
from lab.constraints.conflicts import find_conflict
from lab.constraints.registry import all_types, get_type
from lab.errors import LabError
from lab.math_problems import generate_math_problems, problem_split
from lab.seeds import load_heldout_tasks, load_seed_tasks


@pytest.fixture(scope="module")
def heldout():
    return heldout_if_suite()


def test_heldout_suite_has_300_hard_prompts_with_1_to_3_hard_constraints(heldout) -> None:
    hard = [i for i in heldout.items if i.part == "hard"]
    soft = [i for i in heldout.items if i.part == "soft"]
    assert len(hard) >= 300 and len(soft) >= 100
    assert Counter(len(i.instruction_id_list) for i in hard).keys() == {1, 2, 3}
    assert all(get_type(t).kind == "hard" for i in hard for t in i.instruction_id_list)
    assert all(get_type(t).kind == "soft" for i in soft for t in i.instruction_id_list)
    assert {len(i.instruction_id_list) for i in soft} <= {1, 2}
    # Every in-domain (IFEval) hard type is exercised, so per-type pass rates exist for all of them; IFBench's
    # types are heldout-ood's (tests/test_ood_eval.py).
    assert {t for i in hard for t in i.instruction_id_list} == {t.id for t in all_types("hard", family="ifeval")}
    for item in heldout.items:
        assert len(item.kwargs) == len(item.instruction_id_list) == len(item.constraints)
        assert find_conflict(list(zip(item.instruction_id_list, item.kwargs, strict=True))) is None
    assert len({i.key for i in heldout.items}) == len(heldout.items)


def test_heldout_suite_uses_only_heldout_tasks(heldout) -> None:
    heldout_tasks = {t.task.strip() for t in load_heldout_tasks()}
    training_tasks = {t.task.strip() for t in load_seed_tasks()}
    used = {i.row()["prompt"].split("\n\n")[0] for i in heldout.items}
    assert used <= heldout_tasks
    assert not used & training_tasks
    assert len(used) >= 100  # spread over the held-out set, not a handful of tasks


def test_heldout_suite_is_deterministic(heldout) -> None:
    again = heldout_if_suite()
    assert again.fingerprint == heldout.fingerprint
    assert [i.prompt for i in again.items] == [i.prompt for i in heldout.items]
    assert heldout_if_suite(seed=1).fingerprint != heldout.fingerprint


def test_math_probe_is_disjoint_from_training_problems() -> None:
    probe = math_probe_suite()
    assert len(probe.items) >= 200
    assert all(i.part == "math" and i.answer is not None and "\\boxed" in i.prompt for i in probe.items)
    assert all(problem_split(i.prompt.split("\n\n")[0]) == "probe" for i in probe.items)
    training = {p.prompt for seed in (0, 1) for p in generate_math_problems(500, seed=seed, split="train")}
    assert not training & {i.prompt for i in probe.items}
    assert probe.fingerprint == math_probe_suite().fingerprint


def test_arith_probe_has_200_easy_math_items_disjoint_from_training_and_math_probe() -> None:
    from evals.domains import MATH, domain_of_suite_name
    from lab.arith_problems import generate_arith_problems

    arith = load_suite(ARITH_PROBE)
    assert arith.name == ARITH_PROBE and arith.domain == MATH == domain_of_suite_name(ARITH_PROBE)
    assert len(arith.items) == 200 and arith.parts == ["math"]
    assert all(i.answer is not None and "\\boxed" in i.prompt for i in arith.items)
    assert len({i.key for i in arith.items}) == len({i.prompt for i in arith.items}) == 200
    assert all(problem_split(i.prompt.split("\n\n")[0]) == "probe" for i in arith.items)
    training = {p.question for s in (0, 1) for p in generate_math_problems(500, seed=s, split="train")}
    training |= {p.question for s in (0, 1) for p in generate_arith_problems(500, seed=s, split="train")}
    questions = {i.prompt.split("\n\n")[0] for i in arith.items}
    assert not questions & training
    assert not questions & {i.prompt.split("\n\n")[0] for i in math_probe_suite().items}
    assert arith.fingerprint == arith_probe_suite().fingerprint != math_probe_suite().fingerprint


def test_evaluate_job_and_report_treat_arith_probe_like_math_probe(
    lab_home: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from evals.report import main, report
    from training.jobs import run_in_foreground

    config = {"checkpoints": [str(tiny_model_dir)], "suites": [ARITH_PROBE, MATH_PROBE], "limit": 2}
    job = run_in_foreground("evaluate", {**config, "max_new_tokens": 4, "batch_size": 4, "bootstrap_resamples": 200})
    assert job.status == "succeeded", job.error_message
    assert [e["suite"] for e in job.result["evaluations"]] == [ARITH_PROBE, MATH_PROBE]
    text = report([str(tiny_model_dir)], [ARITH_PROBE, MATH_PROBE], types=True)
    for suite in (ARITH_PROBE, MATH_PROBE):
        section = text.split(f"## {suite}\n", 1)[1].split("\n## ", 1)[0]
        assert "| math_accuracy | Δ math_accuracy | math_accuracy_flexible |" in section, section
        assert "prompt_strict" not in section and "Per constraint type" not in section
    capsys.readouterr()
    assert main([str(tiny_model_dir)]) == 0
    out = capsys.readouterr().out  # the default report lists both math probes, with their numbers
    assert f"## {MATH_PROBE}\n" in out and f"## {ARITH_PROBE}\n" in out and "no evaluations" in out  # not heldout


def test_limited_takes_the_first_items_of_each_part(heldout) -> None:
    small = heldout.limited(3)
    assert Counter(i.part for i in small.items) == {"hard": 3, "soft": 3}
    assert small.fingerprint != heldout.fingerprint
    with pytest.raises(LabError) as err:
        heldout.limited(0)
    assert err.value.field == "limit"


def test_load_suite_names(tmp_path: Path) -> None:
    assert load_suite(MATH_PROBE).name == MATH_PROBE
    assert load_suite(ARITH_PROBE).name == ARITH_PROBE
    assert load_suite(HELDOUT_IF).name == HELDOUT_IF
    with pytest.raises(LabError) as err:
        load_suite("gsm8k")
    assert err.value.field == "suites" and "heldout-if" in str(err.value) and ARITH_PROBE in str(err.value)
    with pytest.raises(LabError, match="does not exist"):
        load_suite(str(tmp_path / "missing.jsonl"))


def _write(path: Path, rows: list) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_ifeval_file_keeps_good_rows_and_lists_bad_ones(tmp_path: Path) -> None:
    rows = [
        # IFEval's own data carries null kwargs for unused parameters: accepted.
        {
            "key": 1000,
            "prompt": "Write a haiku about rain.",
            "instruction_id_list": ["change_case:english_lowercase", "length_constraints:number_words"],
            "kwargs": [{"num_words": None}, {"num_words": 20, "relation": "less than", "keywords": None}],
        },
        {"key": 1001, "prompt": "List fruits.", "instruction_id_list": ["made_up:thing"], "kwargs": [{}]},
        {
            "key": 1002,
            "prompt": "Talk.",
            "instruction_id_list": ["length_constraints:number_words"],
            "kwargs": [{"num_words": "lots", "relation": "at least"}],
        },
        "{this is not json",
        {"key": 1004, "prompt": "Hi", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}, {}]},
        {"key": 1005, "prompt": "", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]},
        {"key": 1006, "prompt": "No commas please.", "instruction_id_list": ["punctuation:no_comma"]},
        {"key": 1000, "prompt": "Duplicate key.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]},
    ]
    suite = load_ifeval_file(_write(tmp_path / "mine.jsonl", rows))
    assert [i.key for i in suite.items] == ["1000", "1006"]
    assert suite.items[0].kwargs == ({}, {"num_words": 20, "relation": "less than"})
    assert "20" in suite.items[0].constraints[1]
    errors = {(e.line, e.field) for e in suite.errors}
    assert errors == {
        (2, "instruction_id_list[0]"),
        (3, "kwargs[0]"),
        (4, "json"),
        (5, "kwargs"),
        (6, "prompt"),
        (8, "key"),
    }
    messages = {e.line: e.message for e in suite.errors}
    assert "made_up:thing" in messages[2]
    assert "num_words" in messages[3] and "lots" in messages[3]


def test_ifeval_file_without_any_usable_row_is_refused(tmp_path: Path) -> None:
    bad = _write(tmp_path / "bad.jsonl", [{"prompt": "x", "instruction_id_list": ["nope:nope"], "kwargs": [{}]}])
    with pytest.raises(LabError) as err:
        load_ifeval_file(bad)
    assert err.value.field == "suites" and "nope:nope" in str(err.value)


def test_ifeval_json_array_file(tmp_path: Path) -> None:
    path = tmp_path / "rows.json"
    path.write_text(
        json.dumps([{"prompt": "Say hi.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}])
    )
    suite = load_suite(str(path))
    assert len(suite.items) == 1 and suite.items[0].key == "1"
