"""In-domain vs out-of-domain, per checkpoint: one IFEval-style number on an in-domain suite (default heldout-if)
and on an out-of-domain one (default heldout-ood: IFBench types the default training mix never samples), each
with its 95 % interval and paired delta vs the baseline, plus a one-line reading ("in-domain gain only" is the
overfitting signature). Built from stored evaluations; the UI (ui/ood_view.py) and eval_report show it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from evals.compare import ComparisonRow, comparison_table, delta_cell, value_cell
from evals.domains import IN_DOMAIN, MIXED, OUT_OF_DOMAIN, domain_of_suite_name
from evals.metrics import HEADLINE_ORDER
from evals.suites import HELDOUT_IF, HELDOUT_OOD
from lab.errors import LabError


@dataclass(frozen=True)
class DomainValue:
    """One checkpoint's headline metric on the in-domain or out-of-domain suite; delta vs the baseline (None for it)."""

    label: str
    domain: str  # "in-domain" | "out-of-domain"
    value: float
    low: float | None = None
    high: float | None = None
    delta: float | None = None


DEFAULT_METRIC = "instruction_loose"  # the trade-off view's IF axis too


@dataclass(frozen=True)
class DomainRow:
    """One model's rows on the in-domain and the out-of-domain suite (None where it has no evaluation yet)."""

    ref: str
    label: str
    is_baseline: bool
    in_domain: ComparisonRow | None
    out_of_domain: ComparisonRow | None

    def side(self, domain: str) -> ComparisonRow | None:
        return self.in_domain if domain == IN_DOMAIN else self.out_of_domain


def domain_table(
    refs: Sequence[str],
    in_suite: str = HELDOUT_IF,
    ood_suite: str = HELDOUT_OOD,
    baseline: str | None = None,
) -> list[DomainRow]:
    """Baseline first, then the other refs; models with neither evaluation are left out."""
    if not refs:
        raise LabError("pick at least one checkpoint", field="checkpoints")
    baseline = baseline if baseline is not None else refs[0]
    out = []
    for ref in dict.fromkeys([baseline, *refs]):
        sides = [_row_for(ref, suite, baseline) for suite in (in_suite, ood_suite)]
        found = [s for s in sides if s is not None]
        if found:
            out.append(DomainRow(ref, found[0].label, ref == baseline, sides[0], sides[1]))
    return out


def _row_for(ref: str, suite: str, baseline: str) -> ComparisonRow | None:
    if ref == baseline:
        return next((r for r in comparison_table([baseline], suite, baseline) if r.is_baseline), None)
    # A ref whose evaluation is the baseline's own (the same model named twice) gets no row of its own.
    return next((r for r in comparison_table([baseline, ref], suite, baseline) if not r.is_baseline), None)


def _sign(row: ComparisonRow | None, metric: str) -> int | None:
    """+1 / -1 when the paired 95 % interval of the delta excludes 0, 0 when it does not, None when unknown."""
    if row is None or row.deltas.get(metric) is None or metric not in row.delta_intervals:
        return None
    low, high = row.delta_intervals[metric]
    return 1 if low > 0 else -1 if high < 0 else 0


_READINGS = {
    (1, 1): "gain transfers out of domain",
    (1, 0): "in-domain gain only: did not transfer",
    (1, -1): "in-domain gain, out-of-domain loss: overfits the training types",
    (0, 1): "out-of-domain gain only",
    (0, 0): "no clear change (both intervals include 0)",
    (0, -1): "out-of-domain loss",
    (-1, 1): "in-domain loss, out-of-domain gain",
    (-1, 0): "in-domain loss",
    (-1, -1): "loss on both",
}


def reading(row: DomainRow, metric: str = DEFAULT_METRIC) -> str:
    """What the two paired deltas say together, judged by whether their 95 % intervals exclude 0."""
    if row.is_baseline:
        return "baseline"
    signs = (_sign(row.in_domain, metric), _sign(row.out_of_domain, metric))
    if None in signs:
        missing = [name for name, s in zip(("in-domain", "out-of-domain"), signs, strict=True) if s is None]
        return f"needs paired {' and '.join(missing)} results (evaluate it and the baseline on both suites)"
    return _READINGS[signs]  # type: ignore[index]


def format_domain_table(
    rows: Sequence[DomainRow], metric: str = DEFAULT_METRIC, in_suite: str = HELDOUT_IF, ood_suite: str = HELDOUT_OOD
) -> tuple[list[str], list[list[str]]]:
    """Headers and text cells: per model the metric in-domain and out-of-domain ('value [low, high]' in %), the
    paired deltas vs the baseline ('+x.x [lo, hi]' points), and the reading. Headers name the suites; say the
    metric next to the table."""
    if metric not in HEADLINE_ORDER:
        raise LabError(f"must be one of {', '.join(HEADLINE_ORDER)}, got {metric!r}", field="metric")

    def value(side: ComparisonRow | None) -> str:
        got = side.values.get(metric) if side else None
        return "—" if got is None else value_cell(got, side.intervals.get(metric) if side else None)

    def delta(side: ComparisonRow | None, is_baseline: bool) -> str:
        got = side.deltas.get(metric) if side and not is_baseline else None
        return "" if got is None else delta_cell(got, side.delta_intervals.get(metric) if side else None)

    headers = [
        "model",
        f"in-domain: {short_suite(in_suite)}",
        "Δ in-domain",
        f"out-of-domain: {short_suite(ood_suite)}",
        "Δ out-of-domain",
        "reading",
    ]
    cells = []
    for row in rows:
        cells.append(
            [
                row.label + (" (baseline)" if row.is_baseline else ""),
                value(row.in_domain),
                delta(row.in_domain, row.is_baseline),
                value(row.out_of_domain),
                delta(row.out_of_domain, row.is_baseline),
                reading(row, metric),
            ]
        )
    return headers, cells


def domain_values(rows: Sequence[DomainRow], metric: str = DEFAULT_METRIC) -> list[DomainValue]:
    """Both sides of every row, for ui.figures.domain_figure."""
    out = []
    for row in rows:
        for domain in (IN_DOMAIN, OUT_OF_DOMAIN):
            side = row.side(domain)
            got = side.values.get(metric) if side else None
            if side is None or got is None:
                continue
            low, high = side.intervals.get(metric, (None, None))
            delta = None if row.is_baseline else side.deltas.get(metric)
            out.append(DomainValue(row.label, domain, got, low, high, delta))
    return out


def short_suite(suite: str) -> str:
    """A suite name short enough for a column header: files by their file name (with any prefix)."""
    head, sep, rest = suite.partition(":")
    if sep and "/" in rest:
        return f"{head}:{rest.rsplit('/', 1)[-1]}"
    return suite.rsplit("/", 1)[-1]


def evaluated_suites(domain: str) -> list[str]:
    """Stored suite names of this domain (mixed files count as both), newest first, for pickers."""
    from storage.evaluations import list_evaluations

    found: dict[str, str] = {}
    for evaluation in list_evaluations(limit=500):
        res = evaluation.results
        if evaluation.suite not in found and res.get("status") == "complete":
            found[evaluation.suite] = res.get("domain") or domain_of_suite_name(
                evaluation.suite, (res.get("per_type") or {}).keys()
            )
    return [name for name, d in found.items() if d in (domain, MIXED)]
