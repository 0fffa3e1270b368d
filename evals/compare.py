"""Comparison data the UI shows: stored evaluations side by side with deltas vs a baseline (paired 95 %
intervals), per-constraint-type deltas, and the IF-vs-math trade-off over a run's checkpoints.

Models are named as in the evaluate job: stored checkpoint ids ('12'), folders, 'bundled' or hub ids.
Side-by-side generation and blind votes live in evals.arena.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals.bootstrap import bootstrap_mean, bootstrap_ratio
from evals.metrics import HEADLINE_ORDER, PER_ITEM_FIELDS
from evals.suites import ARITH_PROBE, HELDOUT_IF, MATH_PROBE, MATH_SUITES  # noqa: F401 (MATH_SUITES re-exported)
from lab.constraints.ifeval_modes import LOOSE, STRICT, VERDICT_MODES
from lab.errors import LabError
from storage.evaluations import EvaluationRecord


@dataclass(frozen=True)
class TypeDelta:
    """Pass rate of one constraint type for one checkpoint, against the baseline checkpoint."""

    label: str
    type_id: str
    value: float
    baseline: float
    n: int

    @property
    def delta(self) -> float:
        return self.value - self.baseline


@dataclass(frozen=True)
class TradeoffPoint:
    """One checkpoint's IF accuracy and math accuracy; `series` groups the checkpoints of one run."""

    label: str
    series: str
    step: int | None
    if_accuracy: float
    math_accuracy: float
    if_interval: tuple[float, float] | None = None
    math_interval: tuple[float, float] | None = None
    is_baseline: bool = False


@dataclass(frozen=True)
class HeadlineValue:
    """One headline metric (e.g. "instruction_loose") of one checkpoint with its interval."""

    label: str
    metric: str
    value: float
    low: float | None = None
    high: float | None = None


# The suites as Compare and the report name them; MATH_SUITE is the trade-off view's default math side (hard: for
# models past the 135M floor), ARITH_SUITE the easy probe the bundled model scores mid-scale on.
IF_SUITE = HELDOUT_IF
MATH_SUITE = MATH_PROBE
ARITH_SUITE = ARITH_PROBE
TABLE_METRICS = (
    *HEADLINE_ORDER,
    "soft_mean",
    "math_accuracy",
    "math_accuracy_flexible",
    "mean_tokens",
    "format_failure_rate",
)


@dataclass(frozen=True)
class ComparisonRow:
    """One model's evaluation on a suite; deltas are vs the baseline row, on the prompts both answered."""

    evaluation_id: int
    label: str
    model: str
    checkpoint_id: int | None
    run_id: int | None
    step: int | None
    suite: str
    n_items: int
    is_baseline: bool
    values: dict[str, float | None]
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    deltas: dict[str, float | None] = field(default_factory=dict)
    delta_intervals: dict[str, tuple[float, float]] = field(default_factory=dict)


def model_key(ref: str) -> tuple[str, Any]:
    """('checkpoint', id) for stored checkpoint refs, else ('model', the string evaluations.model holds)."""
    from lab.models import DEFAULT_MODEL_SPEC

    text = str(ref).strip()
    number = text.removeprefix("checkpoint:")
    if number.isdigit():
        return "checkpoint", int(number)
    if text.lower() in ("bundled", DEFAULT_MODEL_SPEC.lower()):
        return "model", DEFAULT_MODEL_SPEC
    path = Path(text).expanduser()
    if path.exists():
        from storage.checkpoints import checkpoint_id_for_path

        resolved = str(path.resolve())
        stored = checkpoint_id_for_path(resolved)
        return ("checkpoint", stored) if stored is not None else ("model", resolved)
    return "model", text


def suite_name(suite: str) -> str:
    """The name evaluations store for a suite: built-in names as they are, files as resolved paths (an
    'ood:'/'ifbench:' prefix kept)."""
    from evals.suites import suite_store_name

    return suite_store_name(suite)


def latest_evaluation(ref: str, suite: str, fingerprint: str | None = None) -> EvaluationRecord | None:
    """The newest complete evaluation of a model on a suite; with `fingerprint`, of exactly those prompts if any."""
    from storage.evaluations import evaluations_for_checkpoints, evaluations_for_model

    suite = suite_name(suite)
    kind, value = model_key(ref)
    found = evaluations_for_checkpoints([value], suite) if kind == "checkpoint" else evaluations_for_model(value, suite)
    if fingerprint:
        same = [e for e in found if e.results.get("suite_fingerprint") == fingerprint]
        found = same or found
    return found[0] if found else None


def _interval(block: Any) -> tuple[float, float] | None:
    if isinstance(block, dict) and block.get("low") is not None and block.get("high") is not None:
        return float(block["low"]), float(block["high"])
    return None


def _row(evaluation: EvaluationRecord, is_baseline: bool) -> ComparisonRow:
    res = evaluation.results
    headline = res.get("headline") or {}
    intervals = {}
    for name in HEADLINE_ORDER:
        got = _interval((res.get("ifeval") or {}).get(name))
        if got:
            intervals[name] = got
    for name, block in (
        ("soft_mean", (res.get("soft") or {}).get("mean")),
        ("math_accuracy", (res.get("math") or {}).get("accuracy")),
        ("math_accuracy_flexible", (res.get("math") or {}).get("accuracy_flexible")),
    ):
        got = _interval(block)
        if got:
            intervals[name] = got
    return ComparisonRow(
        evaluation_id=evaluation.id,
        label=str(res.get("label") or evaluation.model),
        model=evaluation.model,
        checkpoint_id=evaluation.checkpoint_id,
        run_id=res.get("checkpoint_run_id"),
        step=res.get("step"),
        suite=evaluation.suite,
        n_items=int(res.get("n_items") or 0),
        is_baseline=is_baseline,
        values={m: headline.get(m) for m in TABLE_METRICS},
        intervals=intervals,
    )


def paired_delta(
    treatment: dict[str, Any], baseline: dict[str, Any], metric: str, *, resamples: int = 1000, seed: int = 0
) -> tuple[float, float, float] | None:
    """(delta, low, high) of a metric on the items both evaluations answered (their per_item blocks)."""
    if metric not in PER_ITEM_FIELDS:
        return None
    num, den = PER_ITEM_FIELDS[metric]
    keys = [k for k in treatment if k in baseline and num in treatment[k] and num in baseline[k]]
    if not keys:
        return None
    diffs = [float(treatment[k][num]) - float(baseline[k][num]) for k in keys]
    if den is None:
        got = bootstrap_mean(diffs, n_resamples=resamples, seed=seed)
    else:
        got = bootstrap_ratio(diffs, [float(baseline[k][den]) for k in keys], n_resamples=resamples, seed=seed)
    return got.value, got.low, got.high


def comparison_table(refs: Sequence[str], suite: str = IF_SUITE, baseline: str | None = None) -> list[ComparisonRow]:
    """One row per model that has an evaluation on `suite` (others are left out), deltas vs `baseline`
    (default: the first ref). Evaluations are matched on the baseline's exact prompts where possible."""
    if not refs:
        raise LabError("pick at least one checkpoint", field="checkpoints")
    baseline = baseline if baseline is not None else refs[0]
    base_eval = latest_evaluation(baseline, suite)
    fingerprint = base_eval.results.get("suite_fingerprint") if base_eval else None
    rows = []
    seen: set[int] = set()
    for ref in refs:
        evaluation = base_eval if ref == baseline else latest_evaluation(ref, suite, fingerprint)
        if evaluation is None or evaluation.id in seen:
            continue
        seen.add(evaluation.id)
        row = _row(evaluation, is_baseline=base_eval is not None and evaluation.id == base_eval.id)
        if base_eval is not None:
            row = _with_deltas(row, evaluation, base_eval)
        rows.append(row)
    return rows


def compared_row(evaluation: EvaluationRecord, baseline: EvaluationRecord | None = None) -> ComparisonRow:
    """One stored evaluation as a table row, with paired deltas (and their intervals) vs `baseline` if given."""
    row = _row(evaluation, is_baseline=baseline is not None and evaluation.id == baseline.id)
    return _with_deltas(row, evaluation, baseline) if baseline is not None else row


def _with_deltas(row: ComparisonRow, evaluation: EvaluationRecord, base: EvaluationRecord) -> ComparisonRow:
    base_row = _row(base, True)
    deltas: dict[str, float | None] = {}
    delta_intervals: dict[str, tuple[float, float]] = {}
    mine, theirs = evaluation.results.get("per_item") or {}, base.results.get("per_item") or {}
    for metric in TABLE_METRICS:
        value, ref_value = row.values.get(metric), base_row.values.get(metric)
        deltas[metric] = None if value is None or ref_value is None else value - ref_value
        if row.is_baseline:
            continue
        paired = paired_delta(mine, theirs, metric)
        if paired is not None:
            deltas[metric] = paired[0]
            delta_intervals[metric] = (paired[1], paired[2])
    return ComparisonRow(**{**row.__dict__, "deltas": deltas, "delta_intervals": delta_intervals})


def format_table(
    rows: Sequence[ComparisonRow], metrics: Sequence[str] = TABLE_METRICS
) -> tuple[list[str], list[list[str]]]:
    """Headers and text cells for a table widget: 'value [low, high]' and 'Δ +x.x [lo, hi]' in percent."""
    headers = ["model", "n"]
    for metric in metrics:
        headers += [metric, f"Δ {metric}"]
    table = []
    for row in rows:
        cells = [row.label + (" (baseline)" if row.is_baseline else ""), str(row.n_items)]
        for metric in metrics:
            value = row.values.get(metric)
            if metric == "mean_tokens":
                cells.append("—" if value is None else f"{value:.0f}")
            else:
                cells.append(value_cell(value, row.intervals.get(metric)))
            delta = row.deltas.get(metric)
            if row.is_baseline or delta is None:
                cells.append("")
            elif metric == "mean_tokens":
                cells.append(f"{delta:+.0f}")
            else:
                cells.append(delta_cell(delta, row.delta_intervals.get(metric)))
        table.append(cells)
    return headers, table


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}"


def value_cell(value: float | None, interval: Sequence[float] | None) -> str:
    """'x.x [low, high]' in percent ('—' when absent)."""
    return _pct(value) + (f" [{_pct(interval[0])}, {_pct(interval[1])}]" if interval else "")


def delta_cell(delta: float, interval: Sequence[float] | None) -> str:
    """'+x.x [lo, hi]' in percentage points."""
    return f"{100 * delta:+.1f}" + (f" [{100 * interval[0]:+.1f}, {100 * interval[1]:+.1f}]" if interval else "")


def headline_values(rows: Sequence[ComparisonRow]) -> list[HeadlineValue]:
    """IFEval's four numbers of each row, for ui.figures.headline_figure."""
    out = []
    for row in rows:
        for metric in HEADLINE_ORDER:
            value = row.values.get(metric)
            if value is not None:
                low, high = row.intervals.get(metric, (None, None))
                out.append(HeadlineValue(row.label, metric, value, low, high))
    return out


def type_deltas(
    refs: Sequence[str], suite: str = IF_SUITE, baseline: str | None = None, mode: str = LOOSE
) -> list[TypeDelta]:
    """Per constraint type, each model's pass rate (hard: strict or loose; soft: RM mean) vs the baseline's."""
    if mode not in VERDICT_MODES:
        raise LabError(f"must be {STRICT!r} or {LOOSE!r}, got {mode!r}", field="mode")
    rows = comparison_table(refs, suite, baseline)
    base = next((r for r in rows if r.is_baseline), None)
    if base is None:
        return []
    from storage.evaluations import get_evaluation

    def rates(evaluation_id: int) -> dict[str, tuple[float, int]]:
        per_type = get_evaluation(evaluation_id).results.get("per_type") or {}
        out = {}
        for type_id, entry in per_type.items():
            value = entry.get(mode) if entry.get("kind") == "hard" else entry.get("mean")
            if value is not None:
                out[type_id] = (float(value), int(entry.get("n", 0)))
        return out

    base_rates = rates(base.evaluation_id)
    deltas = []
    for row in rows:
        if row.is_baseline:
            continue
        for type_id, (value, n) in sorted(rates(row.evaluation_id).items()):
            if type_id in base_rates:
                deltas.append(TypeDelta(row.label, type_id, value, base_rates[type_id][0], n))
    return deltas


@dataclass(frozen=True)
class TradeoffData:
    points: list[TradeoffPoint]
    missing: list[str]  # refs still lacking an IF or math evaluation (evaluate them to complete the picture)


def tradeoff_data(
    run_ids: Sequence[int],
    base: str | None = "auto",
    if_metric: str = "instruction_loose",
    if_suite: str = IF_SUITE,
    math_suite: str = MATH_SUITE,
) -> TradeoffData:
    """IF accuracy vs math accuracy for every checkpoint of these runs, plus the base model (step 0).

    base "auto": the `model` the first run was trained from (its config), else the bundled model; None: no base.
    """
    from storage.checkpoints import checkpoint_infos
    from storage.runs import get_run

    if base == "auto":
        base = str(get_run(int(run_ids[0])).config.get("model") or "bundled") if run_ids else "bundled"
    if if_metric not in HEADLINE_ORDER:
        raise LabError(f"must be one of {', '.join(HEADLINE_ORDER)}, got {if_metric!r}", field="if_metric")
    candidates: list[tuple[str, str, str, int | None, bool]] = []  # ref, label, series, step, is_baseline
    if base:
        candidates.append((base, "base", "base", 0, True))
    for run_id in run_ids:
        for info in checkpoint_infos(run_id=int(run_id)):
            candidates.append((str(info.id), f"step {info.step}", info.run_name, info.step, False))
    points, missing = [], []
    for ref, label, series, step, is_base in candidates:
        if_eval, math_eval = latest_evaluation(ref, if_suite), latest_evaluation(ref, math_suite)
        if if_eval is None or math_eval is None:
            missing.append(ref)
            continue
        if_block = (if_eval.results.get("ifeval") or {}).get(if_metric)
        math_block = (math_eval.results.get("math") or {}).get("accuracy")
        if not if_block or not math_block:
            missing.append(ref)
            continue
        points.append(
            TradeoffPoint(
                label=str(if_eval.results.get("label") or label) if is_base else label,
                series=series,
                step=step,
                if_accuracy=float(if_block["value"]),
                math_accuracy=float(math_block["value"]),
                if_interval=_interval(if_block),
                math_interval=_interval(math_block),
                is_baseline=is_base,
            )
        )
    return TradeoffData(points, missing)


def official_comparison(refs: Sequence[str], ifeval_file: str) -> list[dict[str, Any]]:
    """Per model, our four IFEval numbers on an IFEval-format file next to lm-eval's on the same file
    (evaluate both the file and 'lm-eval-ifeval' with ifeval_data set to it). Missing sides are None."""
    from evals.lm_eval_hook import SUITE_NAME

    suite = str(Path(ifeval_file).expanduser().resolve())
    out = []
    for ref in refs:
        ours, theirs = latest_evaluation(ref, suite), latest_evaluation(ref, SUITE_NAME)
        if theirs is not None and theirs.results.get("data") != suite:
            theirs = None  # lm-eval ran on other data (e.g. the hub's IFEval): not comparable number for number
        label = next((e.results.get("label") for e in (ours, theirs) if e is not None), ref)
        out.append(
            {
                "ref": ref,
                "label": label,
                "ours": {m: (ours.results.get("headline") or {}).get(m) for m in HEADLINE_ORDER} if ours else None,
                "lm_eval": {m: (theirs.results.get("headline") or {}).get(m) for m in HEADLINE_ORDER}
                if theirs
                else None,
            }
        )
    return out


def evaluated_models(suite: str | None = None, limit: int = 500) -> list[tuple[str, str]]:
    """(ref, label) of every model with a complete evaluation, newest first, for pickers."""
    from storage.evaluations import list_evaluations

    seen: dict[str, str] = {}
    for evaluation in list_evaluations(suite=suite, limit=limit):
        if evaluation.results.get("status") != "complete":
            continue
        ref = str(evaluation.checkpoint_id) if evaluation.checkpoint_id is not None else evaluation.model
        seen.setdefault(ref, str(evaluation.results.get("label") or evaluation.model))
    return list(seen.items())
