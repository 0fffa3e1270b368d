"""`python -m lab.verify`: IFEval-format rows in, per-instruction verdicts out, the four metrics as the last line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lab.verify import main

GOOD = [
    {
        "key": 1,
        "prompt": "Write a haiku. Wrap your entire response with double quotation marks.",
        "response": 'Sure!\n"Leaves fall. Quiet light. The year exhales."',
        "instruction_id_list": ["startend:quotation", "punctuation:no_comma"],
        "kwargs": [{}, {"num_words": None, "relation": None}],  # HF IFEval rows carry null kwargs
    },
    {
        "prompt": "Answer in at least 5 words.",
        "response": "one two three four five",
        "instruction_id_list": ["length_constraints:number_words"],
        "kwargs": [{"num_words": 5, "relation": "at least", "keywords": None}],
    },
    {
        "prompt": "No kwargs at all.",
        "response": "This has, a comma",
        "instruction_id_list": ["punctuation:no_comma"],
        "kwargs": None,
    },
]
BAD = [
    {"prompt": "p", "response": "r", "instruction_id_list": ["keywords:no_such_type"], "kwargs": [{}]},
    {
        "prompt": "p",
        "response": "r",
        "instruction_id_list": ["length_constraints:number_words"],
        "kwargs": [{"num_words": "many", "relation": "at least"}],
    },
    {"prompt": "p", "response": "r", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}, {}]},
]


def _write(path: Path, rows: list, extra_lines: tuple[str, ...] = ()) -> Path:
    path.write_text("\n".join([*(json.dumps(r) for r in rows), *extra_lines]) + "\n", encoding="utf-8")
    return path


def test_scores_rows_and_prints_metrics_last(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.jsonl"
    assert main([str(_write(tmp_path / "in.jsonl", GOOD)), "--output", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["key"] for r in rows[:1]] == [1]  # input fields are kept
    first = rows[0]["results"]
    assert [(r["instruction_id"], r["strict"], r["loose"]) for r in first] == [
        ("startend:quotation", False, True),
        ("punctuation:no_comma", True, True),
    ]
    assert "loose: without first line" in first[0]["loose_evidence"]
    assert rows[1]["results"][0]["strict_evidence"] == "5 words, needs >= 5"
    assert rows[2]["follow_all_strict"] is False and rows[2]["results"][0]["strict_evidence"] == "1 comma, needs 0"
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics == {
        "prompt_level_strict_acc": pytest.approx(1 / 3),
        "inst_level_strict_acc": pytest.approx(2 / 4),
        "prompt_level_loose_acc": pytest.approx(2 / 3),
        "inst_level_loose_acc": pytest.approx(3 / 4),
    }


def test_bad_rows_are_reported_and_the_rest_scored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _write(tmp_path / "in.jsonl", [GOOD[1], *BAD], extra_lines=("{not json", "[1, 2]"))
    out = tmp_path / "out.jsonl"
    assert main([str(source), "--output", str(out)]) == 1
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 6 and "error" not in rows[0]
    errors = [r["error"] for r in rows[1:]]
    assert "unknown constraint type 'keywords:no_such_type'" in errors[0]
    assert errors[1].startswith("length_constraints:number_words.num_words: must be an integer")
    assert errors[2].startswith("kwargs: must be a list with one object per instruction")
    assert "not valid JSON" in errors[3] and "must be a JSON object" in errors[4]
    captured = capsys.readouterr()
    assert len(captured.err.strip().splitlines()) == 5
    assert json.loads(captured.out.strip().splitlines()[-1])["prompt_level_strict_acc"] == 1.0


def test_module_entry_point_writes_rows_to_stdout(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.jsonl", GOOD)
    done = subprocess.run(
        [sys.executable, "-m", "lab.verify", str(source)], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == len(GOOD) + 1
    assert set(json.loads(lines[-1])) == {
        "prompt_level_strict_acc",
        "inst_level_strict_acc",
        "prompt_level_loose_acc",
        "inst_level_loose_acc",
    }


def test_unreadable_input_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "missing.jsonl")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_letter_that_is_not_a_letter_is_counted_and_noted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # IFEval's own input_data.jsonl has letter '#' and '!' rows; lm-eval's checker draws a random letter for them.
    rows = [
        {
            "prompt": "p",
            "response": "Hi!! # yes ##",
            "instruction_id_list": ["keywords:letter_frequency", "keywords:letter_frequency"],
            "kwargs": [
                {"letter": "#", "let_frequency": 3, "let_relation": "at least"},
                {"letter": "!", "let_frequency": 2, "let_relation": "less than"},
            ],
        },
        {
            "prompt": "p",
            "response": "aaa",
            "instruction_id_list": ["keywords:letter_frequency"],
            "kwargs": [{"letter": "A", "let_frequency": 3, "let_relation": "at least"}],
        },
    ]
    out = tmp_path / "out.jsonl"
    assert main([str(_write(tmp_path / "in.jsonl", rows)), "--output", str(out)]) == 0
    scored = [json.loads(line) for line in out.read_text().splitlines()]
    first, second = scored[0]["results"], scored[1]["results"]
    assert [(r["strict"], r["note"]) for r in first] == [(True, "reference draws a random letter here")] + [
        (False, "reference draws a random letter here")
    ]
    assert first[0]["strict_evidence"] == "3 × letter '#', needs >= 3"
    assert second[0]["strict"] and "note" not in second[0]
    captured = capsys.readouterr()
    assert "2 verdict(s) noted" in captured.err
    metrics = json.loads(captured.out.strip().splitlines()[-1])
    assert metrics["prompt_level_strict_acc"] == 0.5 and metrics["inst_level_strict_acc"] == pytest.approx(2 / 3)


def test_a_non_utf8_byte_fails_only_its_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.jsonl"
    bad = json.dumps({**GOOD[1], "prompt": "caf\u00e9"}).encode().replace(b"\\u00e9", b"\xe9")  # latin-1 byte
    source.write_bytes(b"\n".join([json.dumps(GOOD[1]).encode(), bad, json.dumps(GOOD[2]).encode()]) + b"\n")
    out = tmp_path / "out.jsonl"
    assert main([str(source), "--output", str(out)]) == 1
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 3 and "error" not in rows[0] and "error" not in rows[2]
    assert rows[1] == {"line": 2, "error": "line: not UTF-8 text (byte 16 is 0xe9)"}
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == ["line 2: line: not UTF-8 text (byte 16 is 0xe9)"]
    assert json.loads(captured.out.strip().splitlines()[-1])["prompt_level_strict_acc"] == 0.5


@pytest.mark.parametrize("content", [b"", b"\n  \n"])
def test_empty_input_says_so_and_fails(tmp_path: Path, content: bytes) -> None:
    source = tmp_path / "empty.jsonl"
    source.write_bytes(content)
    done = subprocess.run(
        [sys.executable, "-m", "lab.verify", str(source)], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == f"input: no rows in {source}"
