"""Comparison built from storage: the table with deltas vs a baseline, per-type deltas, the trade-off view and
their figures; side-by-side answers with the same seed; blind votes recorded and summarised per pair."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tiny_model import build_tiny_model
from ui.figures import headline_figure, steps_figure, tradeoff_figure, type_delta_figure, votes_figure


@pytest.fixture(scope="session")
def other_tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny_model_seed2"), seed=2)


@pytest.fixture
def stored_run(lab_home: Path, tiny_model_dir: Path, other_tiny_model_dir: Path) -> tuple[int, int, int]:
    """A training run with checkpoints at steps 10 and 20 (two tiny models)."""
    from storage import init_db
    from storage.checkpoints import register_checkpoint
    from storage.jobs import create_job

    init_db()
    run_id = create_job("grpo", {}, name="tiny run").run_id
    return (
        run_id,
        register_checkpoint(run_id, 10, tiny_model_dir),
        register_checkpoint(run_id, 20, other_tiny_model_dir),
    )


def test_table_figures_and_tradeoff_from_a_real_evaluation(stored_run: tuple[int, int, int], tmp_path: Path) -> None:
    from evals.compare import comparison_table, format_table, headline_values, tradeoff_data, type_deltas
    from training.jobs import run_in_foreground

    run_id, first, second = stored_run
    base = build_tiny_model(tmp_path / "base", seed=3)  # stands in for the base model (not a stored checkpoint)
    refs = [str(base), str(first), str(second)]
    job = run_in_foreground(
        "evaluate",
        # 'run:N' stands for every checkpoint of the run.
        {
            "checkpoints": [str(base), f"run:{run_id}"],
            "suites": ["heldout-if", "math-probe"],
            "limit": 2,
            "max_new_tokens": 6,
        },
    )
    assert job.status == "succeeded", job.error_message

    rows = comparison_table(refs, "heldout-if")
    assert [r.label for r in rows] == ["base", "tiny run @ step 10", "tiny run @ step 20"]
    assert [r.is_baseline for r in rows] == [True, False, False]
    for row in rows[1:]:
        for metric in ("prompt_strict", "instruction_loose"):
            # Same prompts on both sides, so the paired delta is exactly the difference of the values.
            assert row.deltas[metric] == pytest.approx(row.values[metric] - rows[0].values[metric])
            low, high = row.delta_intervals[metric]
            assert low <= row.deltas[metric] <= high
    headers, cells = format_table(rows)
    assert headers[:4] == ["model", "n", "prompt_strict", "Δ prompt_strict"]
    assert cells[0][0] == "base (baseline)" and cells[1][3].startswith(("+", "-"))
    assert len(headline_figure(headline_values(rows)).data) == 3

    deltas = type_deltas(refs, "heldout-if")
    assert {d.label for d in deltas} == {"tiny run @ step 10", "tiny run @ step 20"}
    assert type_delta_figure(deltas, baseline_label="base").data

    data = tradeoff_data([run_id], base=str(base))
    assert data.missing == []
    assert [(p.series, p.step, p.is_baseline) for p in data.points] == [
        ("base", 0, True),
        ("tiny run", 10, False),
        ("tiny run", 20, False),
    ]
    math_rows = comparison_table(refs, "math-probe")
    assert [p.math_accuracy for p in data.points] == [r.values["math_accuracy"] for r in math_rows]
    fig = tradeoff_figure(data.points)
    assert [t.name for t in fig.data] == ["base", "tiny run"]
    steps = steps_figure(data.points)
    assert list(steps.data[0].x) == [0, 10, 20]  # the run's line starts at the base model

    from evals.report import report

    text = report(refs, ["heldout-if", "math-probe"], types=True, runs=[run_id])
    assert "| base (baseline) | 4 |" in text and "| tiny run @ step 20 | 4 |" in text
    assert "## Trade-off" in text and "| tiny run | 20 | step 20 |" in text

    # A checkpoint of the run without evaluations is reported as missing rather than drawn.
    from storage.checkpoints import register_checkpoint

    register_checkpoint(run_id, 30, build_tiny_model(tmp_path / "late", seed=4))
    assert len(tradeoff_data([run_id], base=str(base)).missing) == 1


def _evaluation(run_id: int, model: str, per_item: dict, fingerprint: str = "f1") -> int:
    from storage.evaluations import add_evaluation

    values = [v["ps"] for v in per_item.values()]
    results = {
        "status": "complete",
        "suite_fingerprint": fingerprint,
        "label": model,
        "n_items": len(per_item),
        "per_item": per_item,
        "headline": {"prompt_strict": sum(values) / len(values)},
        "ifeval": {"prompt_strict": {"value": sum(values) / len(values), "low": 0.0, "high": 1.0, "n": len(values)}},
    }
    return add_evaluation(run_id, model, "heldout-if", results)


def test_deltas_are_paired_on_the_baselines_prompts(lab_home: Path) -> None:
    from evals.compare import comparison_table
    from storage import init_db
    from storage.jobs import create_job

    init_db()
    run_id = create_job("evaluate", {}).run_id
    base = {f"k{i}": {"ps": 0} for i in range(40)}
    better = {f"k{i}": {"ps": int(i < 20)} for i in range(40)}  # +50 points on the same 40 prompts
    _evaluation(run_id, "base-model", base)
    _evaluation(run_id, "tuned-model", {f"k{i}": {"ps": 1} for i in range(10)}, fingerprint="other")
    _evaluation(run_id, "tuned-model", better)  # older than the "other" one, but on the baseline's prompts
    rows = comparison_table(["base-model", "tuned-model", "never-evaluated"], "heldout-if")
    assert [r.model for r in rows] == ["base-model", "tuned-model"]
    tuned = rows[1]
    assert tuned.n_items == 40 and tuned.deltas["prompt_strict"] == pytest.approx(0.5)
    low, high = tuned.delta_intervals["prompt_strict"]
    assert 0.3 < low < 0.5 < high < 0.7
    # Against the tuned model as the baseline, the same gap appears with the opposite sign.
    flipped = comparison_table(["base-model", "tuned-model"], "heldout-if", baseline="tuned-model")
    assert flipped[0].deltas["prompt_strict"] == pytest.approx(-0.5)


def test_side_by_side_same_seed_and_blind_votes(stored_run: tuple[int, int, int]) -> None:
    from evals.arena import record_vote, side_by_side, vote_summary

    _, first, second = stored_run
    row = {
        "prompt": "Write a short poem about the sea.",
        "instruction_id_list": ["punctuation:no_comma"],
        "kwargs": [{}],
    }
    settings = {"seed": 7, "temperature": 0.9, "top_p": 0.95, "max_new_tokens": 8}
    shown = side_by_side(row, [str(first), str(second)], **settings)
    assert [a.label for a in shown.answers] == ["tiny run @ step 10", "tiny run @ step 20"]
    assert all(a.breakdown["results"][0]["id"] == "punctuation:no_comma" for a in shown.answers)
    again = side_by_side(row, [str(first), str(second)], **settings)
    assert [a.response for a in again.answers] == [a.response for a in shown.answers]  # same seed, same answers

    blind = side_by_side(row, [str(first), str(second)], blind=True, **settings)
    public = blind.public()
    assert [p["label"] for p in public] == ["Model A", "Model B"]
    assert "tiny run" not in repr(public)
    by_label = {a.label: a.response for a in shown.answers}
    assert {p["response"] for p in public} == set(by_label.values())

    result = record_vote(blind, "a")
    assert set(result.revealed.values()) == {"tiny run @ step 10", "tiny run @ step 20"}
    winner_label = result.revealed["A"]
    record_vote(blind, "tie")
    record_vote(blind, "both_bad")
    # The same two models shown the other way round: a vote for B is a win for the model shown as B.
    record_vote(blind, "b", slots=("B", "A"))
    (pair,) = vote_summary()
    assert pair.total == 4 and pair.ties == 1 and pair.both_bad == 1
    wins = {pair.first_label: pair.first_wins, pair.second_label: pair.second_wins}
    assert wins[winner_label] == 2 and sum(wins.values()) == 2
    assert pair.first_win_rate == pytest.approx((wins[pair.first_label] + 0.5) / 3)
    fig = votes_figure([pair.tally()])
    assert sum(t.x[0] for t in fig.data) == pytest.approx(100.0)


def test_blind_mode_needs_two_models_and_votes_need_a_known_choice(stored_run: tuple[int, int, int]) -> None:
    from evals.arena import record_vote, side_by_side
    from lab.errors import LabError

    _, first, second = stored_run
    with pytest.raises(LabError) as err:
        side_by_side("Hello", [str(first)], blind=True, max_new_tokens=4)
    assert err.value.field == "checkpoints"
    shown = side_by_side("Hello", [str(first), str(second)], max_new_tokens=4)
    with pytest.raises(LabError) as err:
        record_vote(shown, "A is better")
    assert err.value.field == "choice"


def test_side_by_side_streams_one_model_after_another_and_the_vote_reveals_the_columns(
    stored_run: tuple[int, int, int],
) -> None:
    import gradio as gr

    from evals.arena import record_vote, side_by_side, stream_side_by_side
    from lab.errors import LabError
    from ui import arena_view

    _, first, second = stored_run
    settings = {"seed": 3, "temperature": 0.9, "max_new_tokens": 6}
    snapshots = list(stream_side_by_side("Hello", [str(first), str(second)], **settings))
    growing, final = snapshots[:-1], snapshots[-1]
    assert growing and not any(s.done for s in growing) and final.done
    assert len({s.id for s in snapshots}) == 1, "one comparison, growing"
    # The first model writes before the second starts; its text only grows.
    firsts = [s.answers[0].response for s in growing]
    assert all(b.startswith(a) for a, b in zip(firsts, firsts[1:], strict=False))
    assert growing[0].answers[1].response == "" and growing[0].answers[0].breakdown == {}
    assert [a.response for a in final.answers] == [
        a.response for a in side_by_side("Hello", [str(first), str(second)], **settings).answers
    ]
    with pytest.raises(LabError, match="wait until"):
        record_vote(growing[-1], "a")

    steps = list(arena_view.on_generate([str(first), str(second)], False, [], "", "Hello", 3, 0.9, 6, True, ""))
    comparison = steps[-1][0]
    assert comparison.done and comparison.blind and (steps[-1][4], steps[-1][9]) == ("Model A", "Model B")
    assert steps[-1][1]["visible"], "the vote buttons show once both answers are scored"
    titles = arena_view.on_vote(comparison, "tie")[4:]  # the columns' titles now name the models
    assert {t.split(": ", 1)[1] for t in titles[:2]} == {"tiny run @ step 10", "tiny run @ step 20"}
    assert [t[:2] for t in titles[:2]] == ["A:", "B:"]
    assert all(isinstance(t, type(gr.skip())) for t in titles[2:])
