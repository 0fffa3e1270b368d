"""The reward-model verdict (noise / weak / informative) from its held-out AUC interval, and where the app says it:
the RM inspector, the pickers' labels and the warning when a GRPO job is queued with a noise RM."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from sklearn.metrics import roc_auc_score

from lab.rm_scorer import RM_FORMAT, RM_INFO_FILE
from storage import checkpoints, jobs
from training.rm_pairs import roc_auc
from training.rm_quality import INFORMATIVE, NOISE, UNKNOWN, WEAK, auc_interval, launch_warnings, rm_verdict


def _scores(n: int, separation: float, seed: int = 0) -> tuple[list[int], list[float]]:
    rng = random.Random(seed)
    labels = [i % 2 for i in range(n)]
    return labels, [rng.gauss(separation * y, 1.0) for y in labels]


def test_the_interval_brackets_the_auc_and_narrows_with_more_pairs() -> None:
    labels, scores = _scores(24, 1.0)
    point = roc_auc(labels, scores)
    assert point == pytest.approx(roc_auc_score(labels, scores))
    low, high = auc_interval(labels, scores)
    assert low <= point <= high
    assert auc_interval(labels, scores) == (low, high), "seeded: the same scores give the same interval"
    big_low, big_high = auc_interval(*_scores(600, 1.0))
    assert big_high - big_low < (high - low) / 2
    assert auc_interval([1, 1], [0.2, 0.3]) is None


def test_the_interval_covers_the_truth_about_95_percent_of_the_time() -> None:
    # Chance scores: the true AUC is 0.5; a 95 % interval should include it in most of 40 independent samples.
    covered = sum(low <= 0.5 <= high for low, high in (auc_interval(*_scores(80, 0.0, seed)) for seed in range(40)))
    assert covered >= 34


def test_verdicts() -> None:
    assert rm_verdict({"held_out_auc": 0.58, "held_out_auc_low": 0.30, "held_out_auc_high": 0.85}).level == NOISE
    assert rm_verdict({"rm/held_out_auc": 0.68, "rm/held_out_auc_low": 0.6, "rm/held_out_auc_high": 0.75}).level == WEAK
    informative = rm_verdict(
        {"held_out_auc": 0.9, "held_out_auc_low": 0.85, "held_out_auc_high": 0.95, "held_out_pairs": 200}
    )
    assert informative.level == INFORMATIVE and "0.90 [0.85, 0.95] on 200 held-out pairs" in informative.text
    assert rm_verdict({"held_out_auc": 0.5}).level == NOISE  # an RM from before intervals: judged on its AUC alone
    assert rm_verdict({}).level == UNKNOWN
    assert "hard-only" in rm_verdict({"held_out_auc": 0.5, "held_out_auc_low": 0.2, "held_out_auc_high": 0.8}).text


def _stored_rm(tmp_path: Path, metrics: dict[str, float]) -> int:
    folder = tmp_path / "runs" / "run-1" / "rm"
    folder.mkdir(parents=True)
    (folder / RM_INFO_FILE).write_text(json.dumps({"format": RM_FORMAT, "metrics": metrics}))
    job = jobs.create_job("reward_model", {})
    meta = {k.removeprefix("rm/"): v for k, v in metrics.items()}
    return checkpoints.register_checkpoint(job.run_id, 1, folder, {"type": "reward_model", **meta})


def test_queueing_grpo_with_a_noise_rm_warns_and_an_informative_one_does_not(db: Path, tmp_path: Path) -> None:
    noise = _stored_rm(
        tmp_path / "a", {"rm/held_out_auc": 0.55, "rm/held_out_auc_low": 0.3, "rm/held_out_auc_high": 0.8}
    )
    good = _stored_rm(
        tmp_path / "b", {"rm/held_out_auc": 0.9, "rm/held_out_auc_low": 0.8, "rm/held_out_auc_high": 0.95}
    )
    [warning] = launch_warnings("grpo", {"reward_model": str(noise)})
    assert warning.startswith(f"reward model {noise}: noise") and "hard-only" in warning
    assert launch_warnings("grpo", {"reward_model": str(good)}) == []
    assert launch_warnings("grpo", {"reward_model": ""}) == []
    assert launch_warnings("grpo", {"reward_model": "run:99"}) == [], "a pipeline's RM is judged when GRPO starts"
    assert launch_warnings("evaluate", {"reward_model": str(noise)}) == []


def test_the_pickers_and_notes_lead_with_the_verdict(db: Path, tmp_path: Path) -> None:
    from ui.rm_inspector import quality_line, quality_note

    _stored_rm(tmp_path, {"rm/held_out_auc": 0.5, "rm/held_out_auc_low": 0.2, "rm/held_out_auc_high": 0.8})
    [checkpoint] = checkpoints.list_checkpoints()
    assert quality_line(checkpoint.meta).startswith("Noise: AUC 0.50 [0.20, 0.80]")
    assert quality_note(checkpoint.path).startswith("Noise:")


def test_the_verdict_says_why_when_the_pairs_carry_little_signal() -> None:
    from training.rm_quality import rm_verdict

    noise = {"held_out_auc": 0.52, "held_out_auc_low": 0.45, "held_out_auc_high": 0.6, "held_out_pairs": 240}
    weak_labels = {"label_signal": 0.06, "label_signal_low": 0.01, "label_signal_high": 0.11}
    text = rm_verdict({**noise, **weak_labels}).text
    assert text.startswith("noise: AUC 0.52 [0.45, 0.60] on 240 held-out pairs")
    assert "only +6.0 [+1.0, +11.0] points more often" in text
    strong_labels = {"label_signal": 0.4, "label_signal_low": 0.3, "label_signal_high": 0.5}
    assert "little signal" not in rm_verdict({**noise, **strong_labels}).text  # then the RM failed to learn


def test_the_verdict_reports_the_hard_pair_controls() -> None:
    from training.rm_quality import rm_verdict

    weak = {"held_out_auc": 0.62, "held_out_auc_low": 0.55, "held_out_auc_high": 0.68, "held_out_pairs": 282}
    controls = {
        "control_train_pairs": 400, "control_held_out_pairs": 120,
        "control_verifier_auc": 0.91, "control_verifier_auc_low": 0.85, "control_verifier_auc_high": 0.96,
        "control_self_auc": 0.58, "control_self_auc_low": 0.47, "control_self_auc_high": 0.69,
    }  # fmt: skip
    text = rm_verdict({**weak, **controls}).text
    assert text.startswith("weak: AUC 0.62 [0.55, 0.68]")
    assert "400 hard-constraint examples, judged by the verifier on 120 held out" in text
    assert "verifier's labels, this classifier reaches AUC 0.91 [0.85, 0.96]; on the policy's own labels, 0.58" in text
    assert "Control" not in rm_verdict(weak).text
