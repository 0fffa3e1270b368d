"""Score IFEval/IFBench-format responses like their evaluation_main: `python -m lab.verify INPUT.jsonl [--output OUT]`.

Each input line: {"prompt", "response", "instruction_id_list", "kwargs"} (other keys are kept; null kwargs are
ignored). Each output line adds per-instruction strict and loose verdicts with evidence. A row with an unknown
instruction id, bad kwargs, bad JSON or bytes that are not UTF-8 gets an "error" (also printed to stderr) and is
left out of the metrics; the others are scored. The last line printed is the four IFEval metrics as JSON. Exit
status 1 if any row failed, 2 if the file can't be read or has no rows.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from lab.constraints.hard.ifbench_common import ifbench_note
from lab.constraints.hard.keywords import RANDOM_LETTER_NOTE, letter_is_random_in_reference
from lab.constraints.ifeval_modes import LOOSE, STRICT, check_hard_modes, ifeval_metrics, loose_variants
from lab.constraints.registry import get_type
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
                STRICT: strict.passed,
                LOOSE: loose.passed,
                "strict_evidence": strict.evidence,
                "loose_evidence": loose.evidence,
            }
        )
        if type_id == "keywords:letter_frequency" and letter_is_random_in_reference((params or {}).get("letter")):
            # IFEval's own input has '#' and '!' here: we count that character, the reference a random letter.
            results[-1]["note"] = RANDOM_LETTER_NOTE
        elif get_type(type_id).family == "ifbench":
            # Where IFBench's checker draws a random value or raises on this text, say so instead of guessing.
            note = ifbench_note(type_id, get_type(type_id).validate(params), loose_variants(response))
            if note:
                results[-1]["note"] = note
    return {
        **row,
        "results": results,
        "follow_all_strict": all(r[STRICT] for r in results),
        "follow_all_loose": all(r[LOOSE] for r in results),
    }


@dataclass(frozen=True)
class VerifySummary:
    metrics: dict[str, float]  # IFEval's four accuracies over the scored rows
    rows: int  # non-blank input lines
    failed: int  # rows with an error (left out of the metrics)
    noted: int  # verdicts with a "note" (where the reference is random or raises)


def _decode(line: str | bytes) -> str:
    if isinstance(line, str):
        return line
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as error:
        raise LabError(f"not UTF-8 text (byte {error.start + 1} is {line[error.start]:#04x})", field="line") from None


def verify_lines(lines: Iterable[str | bytes], out: TextIO, err: TextIO) -> VerifySummary:
    """Score JSONL lines (text, or bytes decoded per line so one bad byte fails only its row), writing one output
    row per input row."""
    strict: list[list[bool]] = []
    loose: list[list[bool]] = []
    rows = failed = noted = 0
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        rows += 1
        problem: LabError | None = None
        row: Any = {"line": number}
        try:
            line = _decode(raw)
            if number == 1:
                line = line.removeprefix("\ufeff")  # a byte-order mark some editors write
            row = json.loads(line)
        except LabError as error:
            problem = error
        except json.JSONDecodeError as error:
            problem = LabError(f"not valid JSON ({error.msg})", field="line")
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
            strict.append([r[STRICT] for r in scored["results"]])
            loose.append([r[LOOSE] for r in scored["results"]])
            noted += sum("note" in r for r in scored["results"])
        out.write(json.dumps(scored, ensure_ascii=False) + "\n")
    return VerifySummary(ifeval_metrics(strict, loose), rows, failed, noted)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.verify", description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path, help="IFEval-format JSONL with a response per row")
    parser.add_argument("--output", type=Path, help="where to write the scored rows (default: stdout)")
    args = parser.parse_args(argv)
    try:
        # Bytes, split on newlines only (JSONL): a bad byte fails its own row, and U+2028 inside a string is no break.
        lines = args.input.read_bytes().split(b"\n")
    except OSError as error:
        print(f"input: cannot read {args.input}: {error}", file=sys.stderr)
        return 2
    if not any(line.strip() for line in lines):
        print(f"input: no rows in {args.input}", file=sys.stderr)
        return 2
    if args.output:
        with args.output.open("w", encoding="utf-8") as out:
            summary = verify_lines(lines, out, sys.stderr)
        print(f"scored rows -> {args.output} ({summary.failed} rows with errors)")
    else:
        summary = verify_lines(lines, sys.stdout, sys.stderr)
    if summary.noted:
        print(
            f"{summary.noted} verdict(s) noted: the reference is random or raises there (see each row's results)",
            file=sys.stderr,
        )
    if summary.failed == summary.rows:
        print(f"input: no row of {args.input} could be scored ({summary.failed} with errors)", file=sys.stderr)
        return 1
    print(json.dumps(summary.metrics))
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
