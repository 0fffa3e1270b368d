"""Score IFEval-format responses like IFEval's evaluation_main: `python -m lab.verify INPUT.jsonl [--output OUT]`.

Each input line: {"prompt", "response", "instruction_id_list", "kwargs"} (other keys are kept; null kwargs are
ignored). Each output line adds per-instruction strict and loose verdicts with evidence. A row with an unknown
instruction id or bad kwargs gets an "error" (also printed to stderr) and is left out of the metrics; the
others are scored. The last line printed is the four IFEval metrics as JSON. Exit status 1 if any row failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

from lab.constraints.ifeval_modes import check_hard_modes, ifeval_metrics
from lab.errors import LabError


def score_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """The row plus "results" (one per instruction) and "follow_all_strict"/"follow_all_loose".

    Raises LabError (naming the field) for a malformed row, an unknown instruction id or bad kwargs.
    """
    if not isinstance(row, Mapping):
        raise LabError(f"each line must be a JSON object, got {type(row).__name__}", field="row")
    response = row.get("response")
    if not isinstance(response, str):
        raise LabError("must be a string (the model's answer)", field="response")
    ids = row.get("instruction_id_list")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise LabError("must be a list of instruction ids", field="instruction_id_list")
    kwargs = row.get("kwargs")
    if kwargs is None:
        kwargs = [{} for _ in ids]
    if not isinstance(kwargs, list) or len(kwargs) != len(ids):
        raise LabError(f"must be a list with one object per instruction ({len(ids)})", field="kwargs")
    results = []
    for index, (type_id, params) in enumerate(zip(ids, kwargs, strict=True)):
        if params is not None and not isinstance(params, Mapping):
            raise LabError(f"must be an object or null, got {params!r}", field=f"kwargs[{index}]")
        strict, loose = check_hard_modes(type_id, response, params)
        results.append(
            {
                "instruction_id": type_id,
                "strict": strict.passed,
                "loose": loose.passed,
                "strict_evidence": strict.evidence,
                "loose_evidence": loose.evidence,
            }
        )
    return {
        **row,
        "results": results,
        "follow_all_strict": all(r["strict"] for r in results),
        "follow_all_loose": all(r["loose"] for r in results),
    }


def verify_lines(lines: Iterable[str], out: TextIO, err: TextIO) -> tuple[dict[str, float], int]:
    """Score JSONL lines, writing one output row per input row; returns (metrics, number of failed rows)."""
    strict: list[list[bool]] = []
    loose: list[list[bool]] = []
    failed = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            row, problem = {"line": number}, LabError(f"not valid JSON ({error.msg})", field="line")
        else:
            problem = None
        if problem is None:
            try:
                scored = score_row(row)
            except LabError as error:
                problem = error
        if problem is not None:
            failed += 1
            print(f"line {number}: {problem}", file=err)
            scored = (
                {**row, "error": str(problem)} if isinstance(row, Mapping) else {"line": number, "error": str(problem)}
            )
        else:
            strict.append([r["strict"] for r in scored["results"]])
            loose.append([r["loose"] for r in scored["results"]])
        out.write(json.dumps(scored, ensure_ascii=False) + "\n")
    return ifeval_metrics(strict, loose), failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.verify", description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path, help="IFEval-format JSONL with a response per row")
    parser.add_argument("--output", type=Path, help="where to write the scored rows (default: stdout)")
    args = parser.parse_args(argv)
    try:
        lines = args.input.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        print(f"input: cannot read {args.input}: {error}", file=sys.stderr)
        return 2
    if args.output:
        with args.output.open("w", encoding="utf-8") as out:
            metrics, failed = verify_lines(lines, out, sys.stderr)
        print(f"scored rows -> {args.output} ({failed} rows with errors)")
    else:
        metrics, failed = verify_lines(lines, sys.stdout, sys.stderr)
    print(json.dumps(metrics))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
