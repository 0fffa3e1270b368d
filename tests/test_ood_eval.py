"""Out-of-domain evaluation and training mixes: IFBench-format files evaluate as out-of-domain with per-type rows
and row-level errors; heldout-ood is fixed, held out and IFBench-only; datasets sample only their families;
Compare's in-domain vs out-of-domain table, figure, report and panel come from stored evaluations."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from evals.domains import IN_DOMAIN, MIXED, OUT_OF_DOMAIN, family_of, split_suite_prefix
from evals.ood_suite import heldout_ood_suite
from evals.suites import HELDOUT_OOD, load_suite, suite_store_name
from lab.compose import sample_constraints
from lab.constraints.conflicts import find_conflict
from lab.constraints.registry import all_types
from lab.errors import LabError
from lab.seeds import load_heldout_tasks, load_seed_tasks
from training.dataset_job import DatasetConfig, build_rows, dataset_stats, load_tasks

IFBENCH_IDS = {t.id for t in all_types("hard", family="ifbench")}
SMALL = {"max_new_tokens": 6, "batch_size": 4, "bootstrap_resamples": 200}

IFBENCH_ROWS = [
    {"key": 1, "prompt": "Write about tea.", "instruction_id_list": ["format:title_case"], "kwargs": [{}]},
    {
        "key": 2,
        "prompt": "Describe a city.",
        "instruction_id_list": ["count:word_count_range", "words:repeats"],
        # IFBench rows carry nulls for unused kwargs, as IFEval's do.
        "kwargs": [{"min_words": 20, "max_words": 60, "N": None}, {"small_n": 3}],
    },
    {"key": 3, "prompt": "Write.", "instruction_id_list": ["count:no_such_type"], "kwargs": [{}]},
    {"key": 4, "prompt": "Write.", "instruction_id_list": ["ratio:stop_words"], "kwargs": [{"percentage": "many"}]},
    {"key": 5, "prompt": "List fruit.", "instruction_id_list": ["words:alphabet"], "kwargs": [{}]},
]


def _write(path: Path, rows: list) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


# ---------------------------------------------------------------- suites and domains


def test_heldout_ood_is_deterministic_heldout_and_ifbench_only() -> None:
    suite = load_suite(HELDOUT_OOD)
    assert suite.name == HELDOUT_OOD and suite.domain == OUT_OF_DOMAIN and len(suite.items) == 300
    assert heldout_ood_suite().fingerprint == suite.fingerprint
    assert [i.prompt for i in heldout_ood_suite().items] == [i.prompt for i in suite.items]
    assert heldout_ood_suite(seed=1).fingerprint != suite.fingerprint
    ids = [t for i in suite.items for t in i.instruction_id_list]
    assert set(ids) == IFBENCH_IDS  # every IFBench type gets a per-type row
    assert Counter(len(i.instruction_id_list) for i in suite.items).keys() == {1, 2, 3}
    for item in suite.items:
        assert item.part == "hard" and len(item.kwargs) == len(item.instruction_id_list) == len(item.constraints)
        assert find_conflict(list(zip(item.instruction_id_list, item.kwargs, strict=True))) is None
    # Held-out seed tasks only: disjoint from the tasks training datasets are built from.
    used = {i.prompt.split("\n\n")[0] for i in suite.items}
    assert used <= {t.task.strip() for t in load_heldout_tasks()}
    assert not used & {t.task.strip() for t in load_seed_tasks()}
    assert len(used) >= 100
    # In-domain heldout-if never uses IFBench types.
    assert not {t for i in load_suite("heldout-if").items for t in i.instruction_id_list} & IFBENCH_IDS


def test_file_domain_from_its_ids_or_a_prefix(tmp_path: Path) -> None:
    ood = _write(tmp_path / "ifbench.jsonl", IFBENCH_ROWS)
    ifeval = _write(tmp_path / "ifeval.jsonl", [{"prompt": "Hi.", "instruction_id_list": ["punctuation:no_comma"]}])
    mixed = _write(
        tmp_path / "mixed.jsonl",
        [{"prompt": "Hi.", "instruction_id_list": ["punctuation:no_comma", "format:title_case"], "kwargs": [{}, {}]}],
    )
    assert load_suite(str(ood)).domain == OUT_OF_DOMAIN
    assert load_suite(str(ifeval)).domain == IN_DOMAIN
    assert load_suite(str(mixed)).domain == MIXED
    forced = load_suite(f"ood:{ifeval}")
    assert forced.domain == OUT_OF_DOMAIN and forced.name == f"ood:{ifeval.resolve()}"
    assert suite_store_name(f"ood:{ifeval}") == forced.name and suite_store_name(str(ifeval)) == str(ifeval.resolve())
    assert split_suite_prefix("IFBENCH: x.jsonl") == ("ifbench", "x.jsonl")
    assert split_suite_prefix("heldout-ood") == (None, "heldout-ood")
    # ifbench: refuses non-IFBench ids as row-level errors, and a file with none left as a whole.
    strict = load_suite(f"ifbench:{ood}")
    assert strict.domain == OUT_OF_DOMAIN and len(strict.items) == 3
    with pytest.raises(LabError) as err:
        load_suite(f"ifbench:{mixed}")
    assert err.value.field == "suites" and "not an ifbench instruction id" in str(err.value)
    assert family_of("format:title_case") == "ifbench" and family_of("punctuation:no_comma") == "ifeval"
    assert family_of("soft:tone") == "soft" and family_of("nope:nope", default="unknown") == "unknown"


def test_ifbench_file_evaluates_as_out_of_domain_with_per_type_rows_and_row_errors(
    lab_home: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lab.models
    from storage.evaluations import get_evaluation, list_evaluations
    from training.jobs import run_in_foreground

    path = _write(lab_home / "IFBench_test.jsonl", IFBENCH_ROWS)
    job = run_in_foreground("evaluate", {**SMALL, "checkpoints": [str(tiny_model_dir)], "suites": [str(path)]})
    assert job.status == "succeeded", job.error_message
    errors = job.result["row_errors"][str(path.resolve())]
    assert len(errors) == 2
    assert errors[0].startswith("line 3: instruction_id_list[0]") and "count:no_such_type" in errors[0]
    assert errors[1].startswith("line 4: kwargs[0]") and "percentage" in errors[1]
    res = get_evaluation(job.result["evaluations"][0]["id"]).results
    assert res["domain"] == OUT_OF_DOMAIN and res["n_items"] == 3 and len(res["row_errors"]) == 2
    for name in ("prompt_strict", "prompt_loose", "instruction_strict", "instruction_loose"):
        block = res["ifeval"][name]
        assert 0.0 <= block["low"] <= block["value"] <= block["high"] <= 1.0
    assert set(res["per_type"]) == {"format:title_case", "count:word_count_range", "words:repeats", "words:alphabet"}
    assert all(row["family"] == "ifbench" and row["kind"] == "hard" for row in res["per_type"].values())
    assert res["per_family"]["ifbench"]["n"] == 4 and set(res["per_family"]) == {"ifbench"}

    # The same file as 'ood:FILE' is its own stored evaluation (Compare finds it by that name), scored from the
    # stored responses: nothing is generated again.
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("generated although the responses are stored")

    monkeypatch.setattr(lab.models, "load_model", refuse)
    again = run_in_foreground("evaluate", {**SMALL, "checkpoints": [str(tiny_model_dir)], "suites": [f"ood:{path}"]})
    assert again.status == "succeeded", again.error_message
    (summary,) = again.result["evaluations"]
    assert summary["suite"] == f"ood:{path.resolve()}" and summary["generated"] == 0 and not summary["cached"]
    assert {e.suite for e in list_evaluations()} == {str(path.resolve()), f"ood:{path.resolve()}"}


# ---------------------------------------------------------------- training mixes


@pytest.mark.parametrize(("families", "allowed"), [(["ifeval"], {"ifeval"}), (["ifbench"], {"ifbench"})])
def test_dataset_samples_only_its_families(families: list[str], allowed: set[str]) -> None:
    config = DatasetConfig(num_tasks=40, max_constraints=3, families=families, math_ratio=0.0)
    config.validate()
    rows = build_rows(config, load_tasks(config))
    ids = {t for r in rows for t in r["instruction_id_list"]}
    assert ids and {family_of(t) for t in ids} == allowed
    assert bool(ids & IFBENCH_IDS) == ("ifbench" in allowed)
    stats = dataset_stats(rows)["families"]
    assert sum(stats.values()) == sum(len(r["instruction_id_list"]) for r in rows)
    assert all(stats[f] == 0 for f in stats if f not in allowed)


def test_hold_out_removes_a_family_whatever_else_says() -> None:
    config = DatasetConfig(
        num_tasks=30, max_constraints=3, families=["ifeval", "ifbench", "soft"], hold_out=["ifbench"]
    )
    config.validate()
    families = {family_of(t) for r in build_rows(config, load_tasks(config)) for t in r["instruction_id_list"]}
    assert families == {"ifeval", "soft"}
    # The default mix is IFEval + soft: IFBench's types are out-of-domain unless asked for.
    default = DatasetConfig(num_tasks=30)
    assert not {t for r in build_rows(default, load_tasks(default)) for t in r["instruction_id_list"]} & IFBENCH_IDS


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"families": ["ifeval", "ifbenchh"]}, "families"),
        ({"hold_out": ["all"]}, "hold_out"),
        ({"families": ["ifbench"], "hold_out": ["ifbench"]}, "families"),
        ({"include_types": ["format:title_case", "punctuation:no_comma", "detectable_format:title"]}, "include_types"),
        ({"families": ["ifeval", "ifbench"], "hold_out": ["ifbench"], "include_types": ["format:title_case"]},
         "include_types"),
    ],
)  # fmt: skip
def test_bad_family_settings_are_refused_naming_the_field(values: dict, field: str) -> None:
    with pytest.raises(LabError) as err:
        DatasetConfig(max_constraints=1, **values).validate()
    assert err.value.field == field


def test_composer_families_filter_even_with_include() -> None:
    rng = random.Random(0)
    picked = {c.type_id for _ in range(50) for c in sample_constraints(rng, 2, 0.0, families=["ifbench"])}
    assert picked and picked <= IFBENCH_IDS
    mixed_include = ["format:title_case", "words:alphabet", "punctuation:no_comma", "detectable_format:title"]
    only = {c.type_id for s in range(30) for c in sample_constraints(random.Random(s), 1, 0.0, include=mixed_include,
                                                                     families=["ifeval"])}  # fmt: skip
    assert only == {"punctuation:no_comma", "detectable_format:title"}
    with pytest.raises(LabError) as err:
        sample_constraints(random.Random(0), 1, families=["ifevall"])
    assert err.value.field == "families"


# ---------------------------------------------------------------- Compare: in-domain vs out-of-domain


def _stored(run_id: int, model: str, suite: str, passed: list[int], domain: str | None) -> int:
    from storage.evaluations import add_evaluation

    value = sum(passed) / len(passed)
    block = {"value": value, "low": max(0.0, value - 0.1), "high": min(1.0, value + 0.1), "n": len(passed)}
    results = {
        "status": "complete",
        "suite_fingerprint": f"fp-{suite}",
        "label": model,
        "n_items": len(passed),
        "per_item": {f"k{i}": {"ps": p, "pl": p, "si": p, "li": p, "n": 1} for i, p in enumerate(passed)},
        "headline": {m: value for m in ("prompt_strict", "prompt_loose", "instruction_strict", "instruction_loose")},
        "ifeval": {m: block for m in ("prompt_strict", "prompt_loose", "instruction_strict", "instruction_loose")},
        "per_type": {},
    }
    if domain:
        results["domain"] = domain
    return add_evaluation(run_id, model, suite, results)


def test_compare_in_domain_vs_out_of_domain_from_stored_results(db: Path) -> None:
    from evals.ood_compare import domain_table, domain_values, evaluated_suites, format_domain_table, reading
    from evals.report import report
    from storage.jobs import create_job
    from ui import ood_view
    from ui.figures import domain_figure

    run_id = create_job("evaluate", {}).run_id
    n = 60
    # The tuned model gains 50 points in-domain and nothing out-of-domain: the overfitting signature.
    _stored(run_id, "base", "heldout-if", [0] * n, "in-domain")
    _stored(run_id, "tuned", "heldout-if", [int(i < n // 2) for i in range(n)], "in-domain")
    _stored(run_id, "base", HELDOUT_OOD, [int(i % 4 == 0) for i in range(n)], None)  # stored before domains
    _stored(run_id, "tuned", HELDOUT_OOD, [int(i % 4 == 0) for i in range(n)], "out-of-domain")
    _stored(run_id, "half", "heldout-if", [1] * n, "in-domain")  # no out-of-domain result yet

    rows = domain_table(["base", "tuned", "half", "never"], baseline="base")
    assert [(r.label, r.is_baseline) for r in rows] == [("base", True), ("tuned", False), ("half", False)]
    tuned = rows[1]
    assert tuned.in_domain.deltas["instruction_loose"] == pytest.approx(0.5)
    assert tuned.out_of_domain.deltas["instruction_loose"] == pytest.approx(0.0)
    assert reading(tuned) == "in-domain gain only: did not transfer"
    assert rows[2].out_of_domain is None and "out-of-domain" in reading(rows[2])
    headers, cells = format_domain_table(rows)
    assert headers[1] == "in-domain: heldout-if" and headers[3] == "out-of-domain: heldout-ood"
    assert cells[0][0] == "base (baseline)" and cells[0][2] == "" and cells[0][5] == "baseline"
    assert cells[1][1].startswith("50.0 [") and cells[1][2].startswith("+50.0 [")
    assert cells[1][3].startswith("25.0 [") and cells[1][4].startswith("+0.0")
    assert cells[2][3] == "—"
    values = domain_values(rows)
    assert {(v.label, v.domain) for v in values} >= {("tuned", "in-domain"), ("tuned", "out-of-domain")}
    figure = domain_figure(values)
    assert [t.name for t in figure.data] == ["in-domain", "out-of-domain"]
    assert "Δ +50.0" in list(figure.data[0].text)

    text = report(["base", "tuned"], ["heldout-if", HELDOUT_OOD])
    assert "## In-domain (heldout-if) vs out-of-domain (heldout-ood)" in text
    assert "| tuned | 50.0 [" in text and "in-domain gain only" in text
    assert "## heldout-ood" in text

    assert evaluated_suites("out-of-domain") == [HELDOUT_OOD] and evaluated_suites("in-domain") == ["heldout-if"]
    table, plot, note = ood_view.on_domain_results(["base", "tuned", "half"], "base", "heldout-if", HELDOUT_OOD, "")
    assert table["visible"] and plot["visible"] and table["value"]["data"][1][0] == "tuned"
    assert "half" in note and "Not yet on both" in note
    table, plot, note = ood_view.on_domain_results([], None, "heldout-if", HELDOUT_OOD, "instruction_loose")
    assert table["visible"] is False and "evaluate" in note.lower()
