"""IFEval detectable-content types (placeholders, postscript) and punctuation:no_comma."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lab.constraints.base import Param, Verdict
from lab.constraints.hard.common import counted, hard_type, pattern, verdict

POSTSCRIPT_MARKERS = ("P.S.", "P.P.S")


def count_placeholders(text: str) -> int:
    r"""len(re.findall(r"\[.*?\]", text)) in linear time (the regex is quadratic on many unclosed '[')."""
    count = 0
    for line in text.split("\n"):  # '.' does not cross a newline
        start = line.find("[")
        while start != -1:
            end = line.find("]", start + 1)
            if end == -1:
                break
            count += 1
            start = line.find("[", end + 1)
    return count


def _check_placeholders(response: str, p: Mapping[str, Any]) -> Verdict:
    count = count_placeholders(response)
    return verdict(
        count >= p["num_placeholders"], f"{counted(count, '[placeholder]')}, needs >= {p['num_placeholders']}"
    )


hard_type(
    "detectable_content:number_placeholders",
    "Square-bracket placeholders",
    (Param("num_placeholders", "int", help="minimum count", low=1, high=100_000, sample_low=1, sample_high=4),),
    (
        "The response must contain at least {num_placeholders} placeholders represented by square brackets, such "
        "as [address].",
        "Include at least {num_placeholders} placeholders in square brackets, like [name].",
        "Leave at least {num_placeholders} blanks for the reader to fill in, written as [placeholder].",
    ),
    _check_placeholders,
    lambda rng: {"num_placeholders": rng.randint(1, 4)},
)


def _postscript_pattern(marker: str) -> re.Pattern[str]:
    # IFEval's patterns start with r"\s*"; that can match empty, so whether the pattern occurs does not depend
    # on it, and leaving it out avoids quadratic time on long whitespace runs.
    if marker == "P.P.S":
        return re.compile(r"p\.\s?p\.\s?s.*$", re.MULTILINE)
    if marker == "P.S.":
        return re.compile(r"p\.\s?s\..*$", re.MULTILINE)
    return pattern(marker.lower(), "", r".*$", re.MULTILINE)


def _check_postscript(response: str, p: Mapping[str, Any]) -> Verdict:
    marker = p["postscript_marker"].strip()
    found = _postscript_pattern(marker).search(response.lower())
    if found:
        return verdict(True, f"postscript found: {found.group(0).strip()[:40]!r}")
    return verdict(False, f"no line starting a postscript with {marker!r}")


hard_type(
    "detectable_content:postscript",
    "Postscript",
    (Param("postscript_marker", "str", help='marker such as "P.S." or "P.P.S"'),),
    (
        "At the end of your response, please explicitly add a postscript starting with {postscript_marker}",
        "End your answer with a postscript that begins with {postscript_marker}",
        "Add a postscript at the end, starting with '{postscript_marker}'.",
    ),
    _check_postscript,
    lambda rng: {"postscript_marker": rng.choice(POSTSCRIPT_MARKERS)},
)


def _check_no_comma(response: str, p: Mapping[str, Any]) -> Verdict:
    count = response.count(",")
    return verdict(count == 0, f"{counted(count, 'comma')}, needs 0")


hard_type(
    "punctuation:no_comma",
    "No commas",
    (),
    (
        "In your entire response, refrain from the use of any commas.",
        "Do not use any commas in your answer.",
        "Write your response without a single comma.",
    ),
    _check_no_comma,
    lambda rng: {},
)
