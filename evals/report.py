"""Markdown report of stored evaluations (for a README "Results" section or a closing note).

`python -m evals.report bundled 12 [--baseline bundled] [--types] [--run 5]` prints, per suite, the
comparison table with 95 % intervals and paired deltas, per-type deltas, in-domain vs out-of-domain side by side
(heldout-if vs heldout-ood unless --in-suite/--ood-suite say otherwise), and the trade-off points of runs.
"""

from __future__ import annotations

import argparse
import sys

from evals.compare import (
    ARITH_SUITE,
    IF_SUITE,
    MATH_SUITE,
    MATH_SUITES,
    comparison_table,
    format_table,
    tradeoff_data,
    type_deltas,
)
from evals.metrics import HEADLINE_ORDER
from evals.ood_compare import DEFAULT_METRIC, domain_table, format_domain_table
from evals.suites import HELDOUT_OOD
from lab.constraints.ifeval_modes import LOOSE, VERDICT_MODES
from lab.errors import LabError


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def report(
    refs: list[str],
    suites: list[str],
    baseline: str | None = None,
    types: bool = False,
    runs: list[int] | None = None,
    mode: str = LOOSE,
    in_suite: str = IF_SUITE,
    ood_suite: str = HELDOUT_OOD,
    domain_metric: str = DEFAULT_METRIC,
) -> str:
    out = []
    for suite in suites:
        rows = comparison_table(refs, suite, baseline)
        if not rows:
            out.append(f"## {suite}\n\nno evaluations of these models on this suite yet\n")
            continue
        metrics = (
            ("math_accuracy", "math_accuracy_flexible", "mean_tokens", "format_failure_rate")
            if suite in MATH_SUITES
            else (
                "prompt_strict",
                "prompt_loose",
                "instruction_strict",
                "instruction_loose",
                "soft_mean",
                "mean_tokens",
            )
        )
        headers, cells = format_table(rows, metrics)
        scope = (
            ""
            if suite in MATH_SUITES
            else " n counts every prompt: IFEval's four numbers cover the prompts with hard constraints, soft_mean"
            " (the reward model's mean probability) those with soft ones."
        )
        out.append(
            f"## {suite}\n\nValues in %, [95 % bootstrap interval]; Δ vs the baseline, paired on the same prompts."
            f"{scope}\n"
        )
        out.append(markdown_table(headers, cells) + "\n")
        if types and suite not in MATH_SUITES:
            deltas = type_deltas(refs, suite, baseline, mode=mode)
            table = [
                [
                    d.label,
                    d.type_id,
                    str(d.n),
                    f"{100 * d.baseline:.1f}",
                    f"{100 * d.value:.1f}",
                    f"{100 * d.delta:+.1f}",
                ]
                for d in sorted(deltas, key=lambda d: (d.label, -d.delta))
            ]
            headers = ["model", "constraint type", "n", "baseline %", "value %", "Δ points"]
            title = f"### Per constraint type ({mode} pass rate; soft types: mean reward-model probability)"
            out.append(f"{title}\n\n" + markdown_table(headers, table) + "\n")
    out.append(domain_section(refs, baseline, in_suite, ood_suite, domain_metric))
    if runs:
        data = tradeoff_data(runs, base=baseline or (refs[0] if refs else None))
        table = [
            [p.series, str(p.step), p.label, f"{100 * p.if_accuracy:.1f}", f"{100 * p.math_accuracy:.1f}"]
            for p in data.points
        ]
        headers = ["run", "step", "checkpoint", "IF instruction loose %", "math %"]
        out.append("## Trade-off\n\n" + markdown_table(headers, table) + "\n")
        if data.missing:
            out.append(f"Not yet evaluated on both suites: {', '.join(data.missing)}\n")
    return "\n".join(out)


def domain_section(refs: list[str], baseline: str | None, in_suite: str, ood_suite: str, metric: str) -> str:
    """In-domain vs out-of-domain: one row per model with both numbers, their paired deltas and a reading."""
    rows = domain_table(refs, in_suite, ood_suite, baseline)
    title = f"## In-domain ({in_suite}) vs out-of-domain ({ood_suite})"
    if not any(r.in_domain and r.out_of_domain for r in rows):
        return f"{title}\n\nno model has evaluations on both suites yet\n"
    headers, cells = format_domain_table(rows, metric, in_suite, ood_suite)
    note = (
        f"{metric} in %, [95 % bootstrap interval]; Δ vs the baseline in points, paired on the same prompts. "
        "A gain in-domain that out-of-domain does not share means the run learned its training types, not "
        "instruction following."
    )
    return f"{title}\n\n{note}\n\n" + markdown_table(headers, cells) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.report", description=__doc__)
    parser.add_argument("refs", nargs="+", help="models: checkpoint ids, folders, 'bundled', hub ids")
    parser.add_argument(
        "--suite",
        action="append",
        help=f"suite(s) to report (default {IF_SUITE}, {HELDOUT_OOD}, {MATH_SUITE} and {ARITH_SUITE})",
    )
    parser.add_argument("--in-suite", default=IF_SUITE, help=f"in-domain side of the domain table ({IF_SUITE})")
    parser.add_argument(
        "--ood-suite", default=HELDOUT_OOD, help=f"out-of-domain side, e.g. ifbench:IFBench_test.jsonl ({HELDOUT_OOD})"
    )
    parser.add_argument(
        "--domain-metric",
        default=DEFAULT_METRIC,
        choices=HEADLINE_ORDER,
        help=f"the number the domain table compares ({DEFAULT_METRIC})",
    )
    parser.add_argument("--baseline", help="model the deltas are against (default: the first)")
    parser.add_argument("--types", action="store_true", help="add per-constraint-type deltas")
    parser.add_argument("--mode", default=LOOSE, choices=VERDICT_MODES, help="per-type verdicts")
    parser.add_argument("--run", type=int, action="append", help="add the trade-off points of this run")
    args = parser.parse_args(argv)
    try:
        suites = args.suite or [IF_SUITE, HELDOUT_OOD, *MATH_SUITES]
        print(
            report(
                args.refs,
                suites,
                args.baseline,
                args.types,
                args.run,
                args.mode,
                args.in_suite,
                args.ood_suite,
                args.domain_metric,
            )
        )
    except LabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
