"""The paper's ablation table, built from storage: one row per variant of an experiment (and the base model), each
suite's headline metric with its 95 % interval, its paired delta vs the base model and vs the reference variant
(the full recipe), answer length, and the variant's reward-model quality.

The experiment job's state (storage.runs.load_state) says which evaluation belongs to which variant; every number
comes from the stored evaluations and checkpoints, so the table can be rebuilt at any time, also mid-experiment
(variants not evaluated yet are listed as missing). `python -m evals.ablation RUN_ID` prints it as Markdown.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from evals.compare import (
    ARITH_SUITE,
    IF_SUITE,
    ComparisonRow,
    TradeoffPoint,
    compared_row,
    delta_cell,
    value_cell,
)
from evals.suites import MATH_SUITES
from lab.errors import LabError

BASE = "base"
IF_METRIC = "instruction_loose"
MATH_METRIC = "math_accuracy_flexible"  # last-number match: the bundled model boxes almost nothing


def suite_metric(suite: str) -> str:
    """The headline metric the table shows for a suite: math accuracy (last number) or instruction-level loose."""
    return MATH_METRIC if suite in MATH_SUITES else IF_METRIC


@dataclass(frozen=True)
class AblationRow:
    variant: str
    description: str
    checkpoint_id: int | None
    is_base: bool
    is_reference: bool
    vs_base: dict[str, ComparisonRow]  # suite -> the row with deltas vs the base model's evaluation
    vs_reference: dict[str, ComparisonRow]  # suite -> the row with deltas vs the reference variant's
    rm: dict[str, float] = field(default_factory=dict)  # the variant's reward model: held_out_auc, ... (none: {})


@dataclass(frozen=True)
class AblationTable:
    suites: list[str]
    reference: str
    rows: list[AblationRow]
    missing: list[str]  # variants without evaluations yet


def _evaluation(evaluation_id: Any) -> Any:
    from storage.evaluations import get_evaluation

    try:
        return get_evaluation(int(evaluation_id))
    except (LabError, KeyError, TypeError, ValueError):
        return None


def _rm_quality(runs: Mapping[str, Any]) -> dict[str, float]:
    from storage.checkpoints import last_checkpoint

    run_id = runs.get("reward_model")
    found = last_checkpoint(int(run_id)) if run_id is not None else None
    if found is None:
        return {}
    keys = ("held_out_auc", "held_out_auc_low", "held_out_auc_high", "held_out_pairs", "train_pairs",
            "pseudo_label_hard_agreement", "hard_auc")  # fmt: skip
    return {k: float(found.meta[k]) for k in keys if isinstance(found.meta.get(k), int | float)}


def ablation_table(state: Mapping[str, Any]) -> AblationTable:
    """The table of an experiment's state (what the experiment job saves): rows base, then variants in order."""
    order = [str(v) for v in state.get("order") or []]
    variants = state.get("variants") or {}
    reference = str(state.get("reference") or (order[0] if order else ""))
    base_evals = {s: _evaluation(i) for s, i in ((state.get("base") or {}).get("evaluations") or {}).items()}
    ref_evals = {s: _evaluation(i) for s, i in ((variants.get(reference) or {}).get("evaluations") or {}).items()}
    suites = [s for s in base_evals if base_evals[s] is not None]
    for name in order:
        suites += [s for s in (variants.get(name) or {}).get("evaluations") or {} if s not in suites]
    rows: list[AblationRow] = []
    if any(base_evals.values()):
        rows.append(_row(BASE, "the model before training", None, base_evals, base_evals, ref_evals, {}, False))
    missing = []
    for name in order:
        record = variants.get(name) or {}
        evals = {s: _evaluation(i) for s, i in (record.get("evaluations") or {}).items()}
        if not any(evals.values()):
            missing.append(name)
            continue
        rows.append(
            _row(name, str(record.get("description") or ""), record.get("checkpoint_id"), evals, base_evals,
                 ref_evals, _rm_quality(record.get("runs") or {}), name == reference)
        )  # fmt: skip
    return AblationTable(suites, reference, rows, missing)


def _row(
    name: str,
    description: str,
    checkpoint_id: Any,
    evals: Mapping[str, Any],
    base: Mapping[str, Any],
    reference: Mapping[str, Any],
    rm: dict[str, float],
    is_reference: bool,
) -> AblationRow:
    vs_base = {s: compared_row(e, base.get(s)) for s, e in evals.items() if e is not None}
    vs_ref = {s: compared_row(e, reference.get(s)) for s, e in evals.items() if e is not None}
    return AblationRow(name, description, None if checkpoint_id is None else int(checkpoint_id), name == BASE,
                       is_reference, vs_base, vs_ref, rm)  # fmt: skip


METRIC_NAMES = {IF_METRIC: "instruction-level loose", MATH_METRIC: "last-number match"}


def headers(table: AblationTable) -> list[str]:
    """Short column names: a suite's value column is named after the suite (its metric: `metric_legend`)."""
    out = ["variant"]
    for suite in table.suites:
        out += [suite, "Δ base", f"Δ {table.reference}"]
    return [*out, "tokens", "RM AUC"]


def metric_legend(table: AblationTable) -> str:
    """What each suite column measures, and what the last two are."""
    parts = [f"{suite}: {METRIC_NAMES[suite_metric(suite)]}" for suite in table.suites]
    first = f" on {table.suites[0]}" if table.suites else ""
    return "; ".join([*parts, f"tokens: mean answer length{first}", "RM AUC: the variant's reward model, held out"])


def cells(table: AblationTable) -> list[list[str]]:
    """Text cells, in percent: 'value [low, high]' and paired 'Δ +x.x [lo, hi]'."""
    out = []
    for row in table.rows:
        line = [row.variant + (" (reference)" if row.is_reference else "")]
        for suite in table.suites:
            metric = suite_metric(suite)
            against_base, against_ref = row.vs_base.get(suite), row.vs_reference.get(suite)
            if against_base is None:
                line += ["—", "", ""]
                continue
            line.append(value_cell(against_base.values.get(metric), against_base.intervals.get(metric)))
            line.append(_delta(against_base, metric, row.is_base))
            line.append(_delta(against_ref, metric, row.is_reference or row.is_base))
        first = row.vs_base.get(table.suites[0]) if table.suites else None
        tokens = first.values.get("mean_tokens") if first else None
        line.append("—" if tokens is None else f"{tokens:.0f}")
        line.append(_rm_cell(row.rm))
        out.append(line)
    return out


def _delta(row: ComparisonRow | None, metric: str, skip: bool) -> str:
    if skip or row is None or row.deltas.get(metric) is None:
        return ""
    return delta_cell(float(row.deltas[metric]), row.delta_intervals.get(metric))  # type: ignore[arg-type]


def _rm_cell(rm: Mapping[str, float]) -> str:
    if "held_out_auc" not in rm:
        return ""
    text = f"{rm['held_out_auc']:.2f}"
    if "held_out_auc_low" in rm and "held_out_auc_high" in rm:
        text += f" [{rm['held_out_auc_low']:.2f}, {rm['held_out_auc_high']:.2f}]"
    if "held_out_pairs" in rm:
        text += f" on {rm['held_out_pairs']:.0f} pairs"
    return text


def markdown(table: AblationTable) -> str:
    if not table.rows:
        waiting = f": {', '.join(table.missing)} not evaluated yet" if table.missing else ""
        return f"No evaluations stored for this experiment yet{waiting}."
    lines = ["| " + " | ".join(headers(table)) + " |", "|" + "---|" * len(headers(table))]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells(table)]
    lines.append(f"\nIn %, [95 % bootstrap interval]; Δ in points, paired on the same prompts. {metric_legend(table)}.")
    if table.missing:
        lines.append(f"\nnot evaluated yet: {', '.join(table.missing)}")
    return "\n".join(lines)


def tradeoff_points(
    table: AblationTable, if_suite: str = IF_SUITE, math_suite: str = ARITH_SUITE
) -> list[TradeoffPoint]:
    """IF (instruction loose on if_suite) vs reasoning (last-number accuracy on math_suite), one point per row
    with both, for ui.figures' trade-off figure."""
    points = []
    for row in table.rows:
        if_row, math_row = row.vs_base.get(if_suite), row.vs_base.get(math_suite)
        if if_row is None or math_row is None:
            continue
        x, y = if_row.values.get(IF_METRIC), math_row.values.get(MATH_METRIC)
        if x is None or y is None:
            continue
        points.append(
            TradeoffPoint(row.variant, row.variant, None, float(x), float(y), if_row.intervals.get(IF_METRIC),
                          math_row.intervals.get(MATH_METRIC), row.is_base)
        )  # fmt: skip
    return points


def experiment_table(run_id: int) -> AblationTable:
    """The table of a stored experiment run."""
    from storage.runs import get_run, load_state

    run = get_run(int(run_id))
    if run.kind != "experiment":
        raise LabError(f"run {run_id} is a {run.kind} run, not an experiment", field="run")
    return ablation_table(load_state(int(run_id)))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.ablation", description=__doc__)
    parser.add_argument("run", type=int, help="the experiment's run id")
    args = parser.parse_args(argv)
    try:
        table = experiment_table(args.run)
    except LabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(markdown(table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
