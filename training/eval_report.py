"""Markdown report of stored evaluations (for a README "Results" section or a closing note).

`python -m training.eval_report bundled 12 [--baseline bundled] [--types] [--run 5]` prints, per suite, the
comparison table with 95 % intervals and paired deltas, per-type deltas, and the trade-off points of runs.
"""

from __future__ import annotations

import argparse
import sys

from lab.errors import LabError
from training.compare import IF_SUITE, MATH_SUITE, comparison_table, format_table, tradeoff_data, type_deltas


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
    mode: str = "loose",
) -> str:
    out = []
    for suite in suites:
        rows = comparison_table(refs, suite, baseline)
        if not rows:
            out.append(f"## {suite}\n\nno evaluations of these models on this suite yet\n")
            continue
        metrics = (
            ("math_accuracy", "math_accuracy_flexible", "mean_tokens", "format_failure_rate")
            if suite == MATH_SUITE
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
            if suite == MATH_SUITE
            else " n counts every prompt: IFEval's four numbers cover the prompts with hard constraints, soft_mean"
            " (the reward model's mean probability) those with soft ones."
        )
        out.append(
            f"## {suite}\n\nValues in %, [95 % bootstrap interval]; Δ vs the baseline, paired on the same prompts."
            f"{scope}\n"
        )
        out.append(markdown_table(headers, cells) + "\n")
        if types and suite != MATH_SUITE:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.eval_report", description=__doc__)
    parser.add_argument("refs", nargs="+", help="models: checkpoint ids, folders, 'bundled', hub ids")
    parser.add_argument("--suite", action="append", help=f"suite(s) to report (default {IF_SUITE} and {MATH_SUITE})")
    parser.add_argument("--baseline", help="model the deltas are against (default: the first)")
    parser.add_argument("--types", action="store_true", help="add per-constraint-type deltas")
    parser.add_argument("--mode", default="loose", choices=("strict", "loose"), help="per-type verdicts")
    parser.add_argument("--run", type=int, action="append", help="add the trade-off points of this run")
    args = parser.parse_args(argv)
    try:
        print(report(args.refs, args.suite or [IF_SUITE, MATH_SUITE], args.baseline, args.types, args.run, args.mode))
    except LabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
