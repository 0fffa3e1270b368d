"""The evaluate job on tiny local models: stored evaluations and samples, cache hits without generating,
row-level errors for bad IFEval files, config refusals; and the metrics maths on hand-made responses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import lab.generation
import lab.models
from evals.metrics import compute_metrics
from evals.suites import EvalItem, load_ifeval_file
from lab.constraints.ifeval_modes import ifeval_metrics
from lab.errors import LabError
from lab.reward import breakdown_batch
from tests.tiny_model import build_tiny_model

SMALL = {"limit": 2, "max_new_tokens": 6, "batch_size": 4, "bootstrap_resamples": 200}


@pytest.fixture(scope="session")
def second_tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny_model_seed1"), seed=1)


@pytest.fixture
def two_checkpoints(lab_home: Path, tiny_model_dir: Path, second_tiny_model_dir: Path) -> tuple[int, int, int]:
    """A run with two stored checkpoints (steps 10 and 20): (run id, checkpoint id, checkpoint id)."""
    from storage import init_db
    from storage.checkpoints import register_checkpoint
    from storage.jobs import create_job

    init_db()
    run_id = create_job("grpo", {}, name="tiny run").run_id
    first = register_checkpoint(run_id, 10, tiny_model_dir)
    second = register_checkpoint(run_id, 20, second_tiny_model_dir)
    return run_id, first, second


def _forbid_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded or run although the result was cached")

    monkeypatch.setattr(lab.models, "generate_batch", refuse)
    monkeypatch.setattr(lab.models, "load_model", refuse)


def test_evaluate_two_checkpoints_stores_metrics_and_samples_then_hits_the_cache(
    two_checkpoints: tuple[int, int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage.evaluations import list_evaluations
    from storage.samples import count_samples, list_samples
    from training.jobs import run_in_foreground

    _, first, second = two_checkpoints
    config = {"checkpoints": [str(first), f"checkpoint:{second}"], "suites": ["heldout-if", "math-probe"], **SMALL}
    job = run_in_foreground("evaluate", config)
    assert job.status == "succeeded", job.error_message
    evaluations = list_evaluations(run_id=job.run_id)
    assert len(evaluations) == 4
    assert {(e.checkpoint_id, e.suite) for e in evaluations} == {
        (c, s) for c in (first, second) for s in ("heldout-if", "math-probe")
    }
    for evaluation in evaluations:
        res = evaluation.results
        assert res["status"] == "complete" and res["label"].startswith("tiny run @ step")
        samples = list_samples(res["samples"]["run_id"], step=res["samples"]["step"], limit=100)
        assert len(samples) == res["n_items"] == res["samples"]["count"]
        assert all(s.meta["generation_key"] == res["generation_key"] for s in samples)
        assert all("results" in s.breakdown and "answer" in s.breakdown for s in samples)
        if evaluation.suite == "heldout-if":
            assert res["parts"] == {"hard": 2, "soft": 2}
            for name in ("prompt_strict", "prompt_loose", "instruction_strict", "instruction_loose"):
                block = res["ifeval"][name]
                assert 0.0 <= block["low"] <= block["value"] <= block["high"] <= 1.0
            ids = {r["id"] for s in samples for r in s.breakdown["results"]}
            assert set(res["per_type"]) == ids
            # No reward model: the soft part is present but not scored, and says so.
            assert res["soft"]["items"] == 2 and res["soft"]["mean"] is None
            assert res["headline"]["soft_mean"] is None
        else:
            assert res["math"]["items"] == 2 and res["math"]["accuracy"]["n"] == 2
            assert res["headline"]["prompt_strict"] is None
        assert res["length"]["mean_tokens"] > 0
    # Same pairs, same settings: instant, nothing loaded or generated, the same evaluations returned.
    _forbid_generation(monkeypatch)
    again = run_in_foreground("evaluate", config)
    assert again.status == "succeeded", again.error_message
    assert [e["cached"] for e in again.result["evaluations"]] == [True] * 4
    assert {e["id"] for e in again.result["evaluations"]} == {e.id for e in evaluations}
    assert count_samples(again.run_id) == 0 and list_evaluations(run_id=again.run_id) == []


def test_rescoring_reuses_stored_generations(lab_home: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch):
    from training.jobs import run_in_foreground

    config = {"checkpoints": [str(tiny_model_dir)], "suites": ["math-probe"], **SMALL}
    first = run_in_foreground("evaluate", config)
    assert first.result["evaluations"][0]["generated"] == 2
    # Another scoring setting misses the result cache but not the generations: no model is run.
    _forbid_generation(monkeypatch)
    second = run_in_foreground("evaluate", {**config, "bootstrap_resamples": 300})
    assert second.status == "succeeded", second.error_message
    summary = second.result["evaluations"][0]
    assert summary["cached"] is False and summary["generated"] == 0
    assert summary["headline"] == first.result["evaluations"][0]["headline"]


def test_bad_ifeval_file_lists_row_errors_and_evaluates_the_rest(lab_home: Path, tiny_model_dir: Path) -> None:
    from storage.evaluations import get_evaluation
    from storage.samples import list_samples
    from training.jobs import run_in_foreground

    path = lab_home / "my_ifeval.jsonl"
    rows = [
        {"key": 1, "prompt": "Write about tea.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]},
        {"key": 2, "prompt": "Write.", "instruction_id_list": ["no_such:instruction"], "kwargs": [{}]},
        {
            "key": 3,
            "prompt": "Write more.",
            "instruction_id_list": ["length_constraints:number_words"],
            "kwargs": [{"num_words": 50, "relation": "roughly"}],
        },
        {"key": 4, "prompt": "List two things.", "instruction_id_list": ["change_case:english_lowercase"]},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    job = run_in_foreground(
        "evaluate", {**SMALL, "limit": None, "checkpoints": [str(tiny_model_dir)], "suites": [str(path)]}
    )
    assert job.status == "succeeded", job.error_message
    errors = job.result["row_errors"][str(path.resolve())]
    assert len(errors) == 2
    assert errors[0].startswith("line 2: instruction_id_list[0]") and "no_such:instruction" in errors[0]
    assert errors[1].startswith("line 3: kwargs[0]") and "roughly" in errors[1]
    evaluation = get_evaluation(job.result["evaluations"][0]["id"])
    assert evaluation.results["n_items"] == 2 and len(evaluation.results["row_errors"]) == 2
    samples = list_samples(job.run_id, step=0)
    assert [s.meta["key"] for s in samples] == ["1", "4"]


def test_official_suite_is_skipped_cleanly_without_ifeval_data(lab_home: Path, tiny_model_dir: Path) -> None:
    from training.jobs import run_in_foreground

    config = {
        **SMALL,
        "checkpoints": [str(tiny_model_dir)],
        "suites": ["lm-eval-ifeval"],
        "ifeval_data": str(lab_home / "absent.jsonl"),
    }
    job = run_in_foreground("evaluate", config)
    assert job.status == "succeeded", job.error_message
    (summary,) = job.result["evaluations"]
    assert summary["suite"] == "lm-eval-ifeval" and summary["skipped"]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"suites": ["gsm8k"]}, "suites"),
        ({"checkpoints": ["999"]}, "checkpoints"),
        ({"checkpoints": ["/no/such/folder"]}, "checkpoints"),
        ({"checkpoints": []}, "checkpoints"),
        ({"checkpoints": ["run:999"]}, "checkpoints"),
        ({"limit": 0}, "limit"),
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"backend": "tensorrt"}, "backend"),
        ({"suites": ["math-probe", "math-probe"]}, "suites"),
    ],
)
def test_bad_configs_are_refused_at_submit(lab_home: Path, tiny_model_dir: Path, values: dict, field: str) -> None:
    from storage.jobs import list_jobs
    from training.jobs import submit_job

    with pytest.raises(LabError) as err:
        submit_job("evaluate", {"checkpoints": [str(tiny_model_dir)], **values})
    assert err.value.field == field
    assert list_jobs() == []


def test_metrics_match_ifeval_on_hand_made_responses(tmp_path: Path) -> None:
    rows = [
        {"key": "a", "prompt": "p", "instruction_id_list": ["change_case:english_lowercase"], "kwargs": [{}]},
        {
            "key": "b",
            "prompt": "p",
            "instruction_id_list": ["punctuation:no_comma", "change_case:english_lowercase"],
            "kwargs": [{}, {}],
        },
        {"key": "c", "prompt": "p", "instruction_id_list": ["change_case:english_lowercase"], "kwargs": [{}]},
        {"key": "d", "prompt": "p", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]},
    ]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    items = list(load_ifeval_file(path).items) + [
        EvalItem("m1", "math", "What is 3+4?", answer="7"),
        EvalItem("m2", "math", "What is 2+2?", answer="4"),
    ]
    responses = [
        "all lowercase here",  # a: passes
        "Sure, HERE IT IS:\nno commas and lowercase",  # b: fails strict on both, loose passes both
        "<think>still thinking",  # c: unclosed think block -> format failure
        "one, two",  # d: fails strict and loose
        "so the answer is \\boxed{7}",
        "the answer is 5",
    ]
    results = breakdown_batch([i.row() for i in items], responses, None, loose=True)
    metrics = compute_metrics(items, results, [5, 10, 64, 3, 8, 64], max_new_tokens=64, resamples=200, seed=0)
    strict = [[bool(r.strict and r.strict.passed) for r in b.results] for b in results[:4]]
    loose = [[bool(r.loose and r.loose.passed) for r in b.results] for b in results[:4]]
    assert strict == [[True], [False, False], [False], [False]]
    assert loose == [[True], [True, True], [False], [False]]
    reference = ifeval_metrics(strict, loose)
    ours = metrics["ifeval"]
    assert ours["prompt_strict"]["value"] == pytest.approx(reference["prompt_level_strict_acc"]) == 0.25
    assert ours["prompt_loose"]["value"] == pytest.approx(reference["prompt_level_loose_acc"]) == 0.5
    assert ours["instruction_strict"]["value"] == pytest.approx(reference["inst_level_strict_acc"]) == 0.2
    assert ours["instruction_loose"]["value"] == pytest.approx(reference["inst_level_loose_acc"]) == 0.6
    assert metrics["math"]["accuracy"]["value"] == 0.5 and metrics["math"]["no_boxed_answer"] == 1
    assert metrics["format_failures"] == {"count": 1, "rate": pytest.approx(1 / 6)}
    assert metrics["length"]["hit_max_new_tokens"] == pytest.approx(2 / 6)
    assert metrics["per_type"]["change_case:english_lowercase"] == {
        "kind": "hard",
        "family": "ifeval",
        "n": 3,
        "strict": 1 / 3,
        "loose": 2 / 3,
    }
    assert metrics["per_type"]["punctuation:no_comma"]["loose"] == 0.5
    assert metrics["per_item"]["b"] == {"t": 10, "ps": 0, "pl": 1, "si": 0, "li": 2, "n": 2}
    assert metrics["headline"]["math_accuracy"] == 0.5


def test_flexible_math_accuracy_counts_unboxed_right_answers() -> None:
    items = [
        EvalItem("m1", "math", "What is 3+4?", answer="7"),
        EvalItem("m2", "math", "What is 2+2?", answer="4"),
        EvalItem("m3", "math", "What is 5+5?", answer="10"),
    ]
    responses = ["3 + 4 = 7", "\\boxed{4}", "5 + 5 = 11"]
    results = breakdown_batch([i.row() for i in items], responses, None, loose=True)
    metrics = compute_metrics(items, results, [5, 5, 5], max_new_tokens=64, resamples=200, seed=0)
    assert metrics["headline"]["math_accuracy"] == pytest.approx(1 / 3)  # only the boxed 4
    assert metrics["headline"]["math_accuracy_flexible"] == pytest.approx(2 / 3)  # 7 and 4
    assert [metrics["per_item"][k].get("mf") for k in ("m1", "m2", "m3")] == [1, 1, 0]


def test_official_hook_reports_why_it_cannot_run(tmp_path: Path) -> None:
    from evals.lm_eval_hook import official_ifeval_status

    status = official_ifeval_status(str(tmp_path / "nothing.jsonl"))
    assert not status.available and status.reason


@pytest.mark.slow
def test_official_hook_runs_lm_eval_on_a_local_ifeval_file(tmp_path: Path, tiny_model_dir: Path) -> None:
    from evals.lm_eval_hook import official_ifeval_status, run_official_ifeval

    path = tmp_path / "ifeval.jsonl"
    path.write_text(
        json.dumps({"key": 1, "prompt": "Say hi.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]})
        + "\n"
    )
    status = official_ifeval_status(str(path))
    if not status.available:
        pytest.skip(status.reason)
    result = run_official_ifeval(str(tiny_model_dir), str(path), max_new_tokens=8, batch_size=1)
    assert result.n_prompts == 1
    assert set(result.metrics) == {"prompt_strict", "prompt_loose", "instruction_strict", "instruction_loose"}


def test_cancelled_evaluation_resumes_without_regenerating(
    lab_home: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from storage import jobs as job_store
    from storage.samples import list_samples
    from training.context import StorageJobContext
    from training.jobs import resume_job, run_in_foreground
    from training.run_job import execute

    generated: list[int] = []
    real_generate = lab.generation.generate_texts

    def counting(loaded, prompts, *args, **kwargs):  # noqa: ANN001, ANN202
        generated.append(len(prompts))
        return real_generate(loaded, prompts, *args, **kwargs)

    monkeypatch.setattr(lab.generation, "generate_texts", counting)
    real_log = StorageJobContext.log_samples

    def cancel_after_first_batch(self, step, samples):  # noqa: ANN001, ANN202
        real_log(self, step, samples)
        if self.attempt == 1:
            self.request_stop("cancel")

    monkeypatch.setattr(StorageJobContext, "log_samples", cancel_after_first_batch)
    config = {**SMALL, "limit": 3, "batch_size": 2, "checkpoints": [str(tiny_model_dir)], "suites": ["heldout-if"]}
    first = run_in_foreground("evaluate", config)
    assert first.status == "cancelled" and generated == [2]
    assert len(list_samples(first.run_id, step=0)) == 2
    resumed = resume_job(first.id)
    assert job_store.claim_next_job(os.getpid()).id == resumed.id
    assert execute(resumed.id, exit_when_lost=False) == "succeeded"
    assert generated == [2, 2, 2]  # only the four missing items were generated
    samples = list_samples(first.run_id, step=0)
    assert [s.idx for s in samples] == list(range(6))
    assert len({s.meta["key"] for s in samples}) == 6
    result = job_store.get_job(resumed.id).result
    assert result["evaluations"][0]["generated"] == 4


def test_a_cancel_stops_an_evaluation_inside_its_batch(
    lab_home: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With batch_size 256 one batch is minutes of generation: a cancel requested while the engine decodes stops it
    there (nothing of the batch is stored), and the resumed job answers every item."""
    import os

    from storage import jobs as job_store
    from storage.samples import list_samples
    from training.context import StorageJobContext
    from training.jobs import resume_job, run_in_foreground
    from training.run_job import execute

    asked: list[int] = []
    real_should_stop = StorageJobContext.should_stop

    def cancel_while_decoding(self):  # noqa: ANN001, ANN202
        asked.append(1)
        if self.attempt == 1 and len(asked) == 20:  # well inside the engine's decoding of the only batch
            self.request_stop("cancel")
        return real_should_stop(self)

    monkeypatch.setattr(StorageJobContext, "should_stop", cancel_while_decoding)
    config = {**SMALL, "limit": 4, "max_new_tokens": 32, "batch_size": 256, "backend": "torch",
              "checkpoints": [str(tiny_model_dir)], "suites": ["heldout-if"]}  # fmt: skip
    first = run_in_foreground("evaluate", config)
    assert first.status == "cancelled"
    assert 20 <= len(asked) < 30  # stopped within tokens of the request, not after 8 answers x 32 tokens
    assert list_samples(first.run_id, step=0) == []
    resumed = resume_job(first.id)
    assert job_store.claim_next_job(os.getpid()).id == resumed.id
    assert execute(resumed.id, exit_when_lost=False) == "succeeded"
    assert len(list_samples(first.run_id, step=0)) == 8
