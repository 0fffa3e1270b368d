"""The reward_model job: pseudo-labelled pairs, AUC, the scorer's input shape, refusals, and a real tiny-model fit."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lab.errors import LabError
from tests.recording_context import RecordingContext
from training.registry import parse_config
from training.rm_pairs import accuracy, build_pairs, group_rows, roc_auc, split_by_group


def brute_force_auc(labels: list[int], scores: list[float]) -> float:
    pos = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    neg = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


@given(
    st.lists(st.tuples(st.integers(0, 1), st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.9, 1.0])), min_size=2, max_size=60)
)
def test_auc_equals_the_pairwise_count_with_ties(items: list[tuple[int, float]]) -> None:
    labels = [y for y, _ in items]
    scores = [s for _, s in items]
    if len(set(labels)) < 2:
        assert roc_auc(labels, scores) is None
    else:
        assert roc_auc(labels, scores) == pytest.approx(brute_force_auc(labels, scores))


def test_auc_and_accuracy_reference_points() -> None:
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert roc_auc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert roc_auc([0, 1], [0.5, 0.5]) == 0.5
    rng = random.Random(0)
    labels = [rng.randint(0, 1) for _ in range(2000)]
    scores = [rng.random() for _ in labels]
    assert abs(roc_auc(labels, scores) - 0.5) < 0.05
    assert accuracy([1, 0, 1], [0.9, 0.4, 0.2]) == pytest.approx(2 / 3)


def _row(group: str, ids: list[str], texts: list[str], kwargs: list[dict] | None = None) -> dict:
    return {
        "prompt": "task " + " ".join(texts), "task": "task", "group_id": group, "level": len(ids),
        "instruction_id_list": ids, "constraints": texts, "kwargs": kwargs or [{} for _ in ids], "source": "curriculum",
    }  # fmt: skip


def test_pairs_positive_is_o_k_negative_is_o_k_minus_1() -> None:
    ids = ["soft:tone", "punctuation:no_comma", "soft:audience"]
    texts = ["Be cheerful.", "No commas.", "For children."]
    rows = [_row("g", ids[:k], texts[:k]) for k in (1, 2, 3)]
    responses = {("g", 0): "bare", ("g", 1): "one", ("g", 2): "two", ("g", 3): "three"}
    kinds = {"soft:tone": "soft", "soft:audience": "soft", "punctuation:no_comma": "hard"}
    pairs = build_pairs(group_rows(rows), responses, kinds.__getitem__)
    got = {(p.level, p.label): (p.response, p.constraint, p.kind) for p in pairs}
    assert got == {
        (1, 1): ("one", "Be cheerful.", "soft"),
        (1, 0): ("bare", "Be cheerful.", "soft"),  # level 1's negative: the answer to the bare task
        (2, 1): ("two", "No commas.", "hard"),
        (2, 0): ("one", "No commas.", "hard"),
        (3, 1): ("three", "For children.", "soft"),
        (3, 0): ("two", "For children.", "soft"),
    }


def test_pairs_skip_missing_identical_and_gapped_levels() -> None:
    ids, texts = ["soft:tone", "soft:audience", "soft:genre"], ["a", "b", "c"]
    rows = [_row("g", ids[:k], texts[:k]) for k in (1, 2, 3)] + [_row("h", ids[:2], texts[:2])]  # h lacks level 1
    responses = {("g", 0): "x", ("g", 1): "x", ("g", 2): None, ("g", 3): "z", ("h", 1): "p", ("h", 2): "q"}
    pairs = build_pairs(group_rows(rows), responses, lambda _: "soft")
    assert pairs == []  # g1 == g0, g2 unusable (format failure) so g2 and g3 drop, h has no level 1


def test_split_keeps_groups_apart_and_holds_out_about_the_fraction() -> None:
    ids, texts = ["soft:tone", "soft:audience"], ["a", "b"]
    rows = [_row(f"g{i}", ids[:k], texts[:k]) for i in range(20) for k in (1, 2)]
    responses = {(f"g{i}", k): f"r{i}-{k}" for i in range(20) for k in (0, 1, 2)}
    pairs = build_pairs(group_rows(rows), responses, lambda _: "soft")
    train, held = split_by_group(pairs, 0.1, seed=0)
    assert len(train) + len(held) == len(pairs) == 80
    assert {p.group_id for p in train}.isdisjoint({p.group_id for p in held})
    assert 8 <= len(held) <= 12
    assert split_by_group(pairs, 0.1, seed=0) == (train, held)


def test_encoded_input_keeps_the_constraint_when_the_response_is_cut(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    from lab.rm_scorer import RMTemplate, encode_pairs

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    template = RMTemplate(max_length=64)
    (ids,) = encode_pairs(tokenizer, [("word " * 500, "Answer in French.")], template)
    assert len(ids) <= 64
    text = tokenizer.decode(ids)
    assert text.startswith("Determine whether") and text.rstrip().endswith("Constraint: Answer in French.\n\nAdheres:")


def test_scorer_probabilities_keep_input_order(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from lab.rm_scorer import RewardModelScorer

    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)
    scorer = RewardModelScorer(model, AutoTokenizer.from_pretrained(tiny_model_dir), batch_size=2)
    pairs = [("short", "c"), ("a much longer response " * 10, "c"), ("mid length text", "other")]
    together = scorer.score(pairs)
    alone = [scorer.score([p])[0] for p in pairs]
    assert all(0.0 <= p <= 1.0 for p in together)
    assert together == pytest.approx(alone, abs=1e-5)
    assert scorer.score([]) == []


def _dataset(tmp_path: Path, **values) -> Path:
    from training.dataset_job import DatasetConfig
    from training.dataset_job import run as run_dataset

    config = parse_config(DatasetConfig, {"num_tasks": 6, "max_constraints": 3, "math_ratio": 0.2, **values})
    return Path(run_dataset(config, RecordingContext(tmp_path / "dataset"))["path"])


def test_bad_reward_model_configs_are_refused(tmp_path: Path, tiny_model_dir: Path) -> None:
    from training.reward_model_job import RewardModelConfig

    good = {"dataset": str(_dataset(tmp_path)), "policy": str(tiny_model_dir), "init_from": str(tiny_model_dir)}
    hard_only = _dataset(tmp_path / "h", soft_ratio=0.0, name="hard")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    cases = [
        ({"dataset": str(hard_only)}, "dataset", "no soft constraints"),
        ({"dataset": str(empty)}, "dataset", "empty"),
        ({"dataset": str(tmp_path / "missing.jsonl")}, "dataset", "does not exist"),
        ({"dataset": ""}, "dataset", "required"),
        ({"policy": str(tmp_path / "no_such_checkpoint")}, "policy", "does not exist"),
        ({"init_from": str(tmp_path / "no_such_checkpoint")}, "init_from", "does not exist"),
        ({"epochs": 0}, "epochs", ">= 1"),
        ({"held_out_fraction": 1.0}, "held_out_fraction", "between 0 and 1"),
    ]
    for values, field, words in cases:
        with pytest.raises(LabError) as error:
            parse_config(RewardModelConfig, {**good, **values})
        assert error.value.field == field, values
        assert words in str(error.value), (values, str(error.value))
    parse_config(RewardModelConfig, good)


def test_reward_model_job_trains_saves_and_loads_as_a_scorer(tmp_path: Path, tiny_model_dir: Path) -> None:
    from lab.reward import breakdown
    from lab.rm_scorer import load_rm_scorer, read_rm_info
    from training.reward_model_job import RewardModelConfig
    from training.reward_model_job import run as run_rm
    from training.rm_responses import RESPONSES_FILE

    config = parse_config(
        RewardModelConfig,
        {
            "dataset": str(_dataset(tmp_path)), "policy": str(tiny_model_dir), "init_from": str(tiny_model_dir),
            "max_new_tokens": 16, "epochs": 2, "batch_size": 4, "held_out_fraction": 0.3, "learning_rate": 1e-3,
            "control_pairs": 6,
        },
    )  # fmt: skip
    ctx = RecordingContext(tmp_path / "rm")
    result = run_rm(config, ctx)
    (step, path, meta) = ctx.checkpoints[-1]
    assert meta["type"] == "reward_model" and path == Path(result["path"])
    assert 0.0 <= meta["held_out_accuracy"] <= 1.0 and meta["held_out_pairs"] > 0 and meta["hard_pairs"] > 0
    assert "hard_agreement" in meta and "pseudo_label_hard_agreement" in meta
    if "held_out_auc" in meta:  # stored with its interval, so the app can say whether the RM is better than chance
        assert meta["held_out_auc_low"] <= meta["held_out_auc"] <= meta["held_out_auc_high"]
    assert result["quality"] in ("noise", "weak", "informative", "unknown")
    losses = [ctx.metrics[s]["rm/loss"] for s in sorted(ctx.metrics) if "rm/loss" in ctx.metrics[s]]
    assert len(losses) == step
    # The two control classifiers trained on at most control_pairs hard examples, logged apart from the RM.
    assert 0 < meta["control_train_pairs"] <= 6 and meta["control_held_out_pairs"] > 0
    for source in ("verifier", "self"):
        steps = [s for s in ctx.metrics if f"rm_control_{source}/loss" in ctx.metrics[s]]
        assert len(steps) == -(-int(meta["control_train_pairs"]) // 4) * 2, source
    assert read_rm_info(path)["template"]["max_length"] == config.max_length
    assert read_rm_info(path)["metrics"]["rm/control_train_pairs"] == meta["control_train_pairs"]  # merged in
    # One fixed total from the first report; the response phase moves in chunks, not once for the whole batch.
    totals = {total for _, total, _ in ctx.progress_calls}
    assert len(totals) == 1
    currents = [c for c, _, _ in ctx.progress_calls]
    assert currents == sorted(currents), "the bar never goes backwards"
    generated = {c for c, _, m in ctx.progress_calls if m.startswith("generating responses")}
    assert len(generated) >= 3, ctx.progress_calls
    scorer = load_rm_scorer(path)
    row = {"instruction_id_list": ["soft:tone"], "kwargs": [{"tone": "warm"}], "constraints": ["Use a warm tone."]}
    result = breakdown(row, "What a lovely day!", soft_scorer=scorer)
    assert result.results[0].kind == "soft" and 0.0 <= result.results[0].score <= 1.0
    # The responses were cached: a resumed attempt does not generate them again.
    cached = (ctx.work_dir / RESPONSES_FILE).read_text().splitlines()
    assert len(cached) == len({(json.loads(c)["group_id"], json.loads(c)["level"]) for c in cached}) > 0


def test_label_signal_is_the_pass_rate_gap_of_hard_twins_and_sampling_keeps_twins() -> None:
    from training.reward_model_job import label_signal, sample_whole_pairs
    from training.rm_pairs import Pair

    def twin(g: int) -> list[Pair]:
        common = dict(constraint="c", type_id="punctuation:no_comma", kind="hard", group_id=f"g{g}", level=1)
        return [Pair(response=f"with {g}", label=1, **common), Pair(response=f"without {g}", label=0, **common)]

    hard = [p for g in range(10) for p in twin(g)]
    # o_k satisfies c_k in 8 of 10 groups, o_{k-1} (written without c_k) in 3: the label is right 5 points in 10.
    truth = [int(g < 8) if p.label == 1 else int(g < 3) for g in range(10) for p in twin(g)]
    got = label_signal(hard, truth)
    assert got["rm/hard_twin_pairs"] == 10
    assert got["rm/hard_pass_with_c"] == 0.8 and got["rm/hard_pass_without_c"] == 0.3
    assert got["rm/label_signal"] == pytest.approx(0.5)
    assert got["rm/label_signal_low"] <= 0.5 <= got["rm/label_signal_high"] and got["rm/label_signal_low"] > 0
    # The pseudo-labels' agreement with the verifier is 1/2 + gap/2: same information, read as a gap.
    agreement = sum(p.label == t for p, t in zip(hard, truth, strict=True)) / len(hard)
    assert agreement == pytest.approx(0.5 + got["rm/label_signal"] / 2)
    assert label_signal(hard[::2], truth[::2]) == {}  # no complete twin, no gap

    kept = sample_whole_pairs(hard, 6, seed=0)
    assert len(kept) == 6 and all(sum(q.group_id == p.group_id for q in kept) == 2 for p in kept)
    assert sample_whole_pairs(hard, 6, seed=0) == kept and sample_whole_pairs(hard, 100, seed=0) == hard


def test_controls_train_on_the_verifiers_labels_and_on_the_self_labels(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The verifier-labelled control learns what the verifier says (here: "no commas", which the tiny classifier can
    pick up), so it is judged well against the verifier; the self-labelled one learns labels that say nothing here
    (o_k and o_{k-1} pass equally often), so it is not."""
    import training.reward_model_job as rm_job
    from training.reward_model_job import RewardModelConfig, verifier_verdict
    from training.rm_control import run_controls
    from training.rm_pairs import Pair

    rng = random.Random(0)
    words = ["alpha", "bravo", "delta", "echo", "kilo", "lima", "oscar", "tango"]

    def answer(commas: bool) -> str:
        picked = rng.sample(words, 5)
        return (", " if commas else " ").join(picked) + "."

    hard = []
    for g in range(48):  # both answers of a twin pass or fail together: the self-label is right half the time
        commas = g % 2 == 0
        common = dict(constraint="Do not use any commas.", type_id="punctuation:no_comma", kind="hard", level=1)
        hard += [Pair(response=answer(commas), label=1, group_id=f"g{g}", **common),
                 Pair(response=answer(commas), label=0, group_id=f"g{g}", **common)]  # fmt: skip
    seen: dict[str, list[Pair]] = {}
    real_train = rm_job.train_classifier

    def recording(model, tokenizer, pairs, config, ctx, step0, total, span=None, prefix="rm"):  # noqa: ANN001, ANN202
        seen[prefix] = list(pairs)
        return real_train(model, tokenizer, pairs, config, ctx, step0, total, span, prefix)

    monkeypatch.setattr(rm_job, "train_classifier", recording)
    config = RewardModelConfig(
        init_from=str(tiny_model_dir), control_pairs=64, epochs=6, batch_size=8, learning_rate=3e-3,
        held_out_fraction=0.25, max_length=256,
    )  # fmt: skip
    ctx = RecordingContext(tmp_path / "control")
    metrics = run_controls(config, ctx, hard, verifier_verdict, 0, 100)
    assert metrics is not None and metrics["rm/control_train_pairs"] == 64
    assert metrics["rm/control_held_out_pairs"] == 24 and 0 < metrics["rm/control_held_out_pass_rate"] < 1
    assert sorted(seen) == ["rm_control_self", "rm_control_verifier"]
    by_verifier, by_self = seen["rm_control_verifier"], seen["rm_control_self"]
    assert [p.response for p in by_verifier] == [p.response for p in by_self]  # the same 64 examples
    assert [p.label for p in by_verifier] == [verifier_verdict(p) for p in by_self]
    assert [p.label for p in by_self] == [1, 0] * 32  # o_k, o_{k-1}: the pseudo-labels
    assert metrics["rm/control_verifier_auc"] > 0.9, metrics
    assert metrics["rm/control_self_auc"] < metrics["rm/control_verifier_auc_low"], metrics
    for source in ("verifier", "self"):
        assert metrics[f"rm/control_{source}_auc_low"] <= metrics[f"rm/control_{source}_auc"]
        assert metrics[f"rm/control_{source}_auc"] <= metrics[f"rm/control_{source}_auc_high"]


def test_a_stop_during_the_controls_keeps_the_trained_reward_model(tmp_path: Path, tiny_model_dir: Path) -> None:
    from lab.rm_scorer import read_rm_info
    from training.reward_model_job import RewardModelConfig
    from training.reward_model_job import run as run_rm

    class StopInControls(RecordingContext):
        def should_stop(self) -> bool:
            return any("control" in message for _, _, message in self.progress_calls)

    config = parse_config(
        RewardModelConfig,
        {
            "dataset": str(_dataset(tmp_path)), "policy": str(tiny_model_dir), "init_from": str(tiny_model_dir),
            "max_new_tokens": 8, "epochs": 1, "batch_size": 4, "held_out_fraction": 0.3, "control_pairs": 4,
        },
    )  # fmt: skip
    ctx = StopInControls(tmp_path / "rm")
    result = run_rm(config, ctx)
    assert result["stopped"] == "during the control classifiers"
    [(_, path, meta)] = ctx.checkpoints  # the reward model itself is registered, with its own metrics
    assert str(path) == result["path"] and "held_out_accuracy" in meta and "control_verifier_auc" not in meta
    assert "rm/held_out_accuracy" in read_rm_info(path)["metrics"]
    with pytest.raises(LabError, match="at least 2") as error:
        parse_config(RewardModelConfig, {**config.__dict__, "control_pairs": 1})
    assert error.value.field == "control_pairs"
