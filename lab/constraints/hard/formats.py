"""IFEval detectable-format types: bullets, constrained answer, highlights, sections, JSON, title."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from lab.constraints.base import Param, Verdict
from lab.constraints.hard.common import counted, hard_type, pattern, verdict

_LEADING_SPACE = re.compile(r"\s*")
_HIGHLIGHT = re.compile(r"\*[^\n\*]*\*")
_DOUBLE_HIGHLIGHT = re.compile(r"\*\*[^\n\*]*\*\*")
CONSTRAINED_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")
SECTION_SPLITTERS = ("Section", "SECTION")


def _count_line_items(text: str, star: bool) -> int:
    """len(re.findall(r"^\\s*\\*[^\\*].*$" or r"^\\s*-.*$", text, re.MULTILINE)) in linear time.

    At a line start the regex's \\s* runs to the end of the whitespace (newlines included) and needs the marker
    right there, so every line start inside one whitespace run shares one outcome: test it once.
    """
    count, pos, n = 0, 0, len(text)
    while True:
        end_ws = _LEADING_SPACE.match(text, pos).end()
        if star:
            ok = end_ws + 1 < n and text[end_ws] == "*" and text[end_ws + 1] != "*"
        else:
            ok = end_ws < n and text[end_ws] == "-"
        if ok:
            count += 1
            # the rest of the match: ([^*], which may be a newline, then) .* up to the end of that line
            end = text.find("\n", end_ws + 2 if star else end_ws + 1)
            if end == -1:
                return count
            pos = end if text[end - 1] == "\n" else end + 1  # the next line start at or after the match end
        else:
            newline = text.find("\n", end_ws)
            if newline == -1:
                return count
            pos = newline + 1


def _check_bullets(response: str, p: Mapping[str, Any]) -> Verdict:
    count = _count_line_items(response, star=True) + _count_line_items(response, star=False)
    return verdict(count == p["num_bullets"], f"{counted(count, 'bullet point')}, needs exactly {p['num_bullets']}")


hard_type(
    "detectable_format:number_bullet_lists",
    "Number of bullet points",
    (Param("num_bullets", "int", help="exact count", low=1, high=100_000, sample_low=2, sample_high=4),),
    (
        "Your answer must contain exactly {num_bullets} bullet points. Use the markdown bullet points such as:\n"
        "* This is point 1. \n* This is point 2",
        "Give exactly {num_bullets} markdown bullet points (lines starting with * or -).",
        "Format your answer as a list of exactly {num_bullets} bullet points using markdown, e.g. '* point'.",
    ),
    _check_bullets,
    lambda rng: {"num_bullets": rng.randint(2, 4)},
)


def _check_constrained(response: str, p: Mapping[str, Any]) -> Verdict:
    text = response.strip()
    for option in CONSTRAINED_OPTIONS:
        if option in text:
            return verdict(True, f"contains {option!r}")
    return verdict(False, "contains none of " + ", ".join(repr(o) for o in CONSTRAINED_OPTIONS))


hard_type(
    "detectable_format:constrained_response",
    "Constrained answer (yes/no/maybe)",
    (),
    (
        "Answer with one of the following options: ('My answer is yes.', 'My answer is no.', 'My answer is maybe.')",
        "Reply with exactly one of: 'My answer is yes.', 'My answer is no.', or 'My answer is maybe.'",
        "Your answer must be one of these options: My answer is yes. / My answer is no. / My answer is maybe.",
    ),
    _check_constrained,
    lambda rng: {},
)


def count_highlights(text: str) -> int:
    count = sum(1 for h in _HIGHLIGHT.findall(text) if h.strip("*").strip())
    # IFEval also counts **bold** spans a second time (lm-eval strips exactly one "**" on each side)
    count += sum(1 for h in _DOUBLE_HIGHLIGHT.findall(text) if h.removeprefix("**").removesuffix("**").strip())
    return count


def _check_highlights(response: str, p: Mapping[str, Any]) -> Verdict:
    count = count_highlights(response)
    return verdict(
        count >= p["num_highlights"], f"{counted(count, '*highlighted* section')}, needs >= {p['num_highlights']}"
    )


hard_type(
    "detectable_format:number_highlighted_sections",
    "Highlighted sections",
    (Param("num_highlights", "int", help="minimum count", low=1, high=100_000, sample_low=1, sample_high=4),),
    (
        "Highlight at least {num_highlights} sections in your answer with markdown, i.e. *highlighted section*.",
        "Use markdown to highlight at least {num_highlights} parts of your answer, like *this part*.",
        "Mark at least {num_highlights} sections as highlighted with asterisks, e.g. *important point*.",
    ),
    _check_highlights,
    lambda rng: {"num_highlights": rng.randint(1, 4)},
)


def _check_sections(response: str, p: Mapping[str, Any]) -> Verdict:
    splitter = p["section_spliter"].strip()
    count = len(pattern(splitter, r"\s?", r"\s?\d+\s?", 0).split(response)) - 1
    return verdict(
        count >= p["num_sections"], f"{counted(count, repr(splitter + ' N') + ' header')}, needs >= {p['num_sections']}"
    )


hard_type(
    "detectable_format:multiple_sections",
    "Numbered sections",
    (
        Param("section_spliter", "str", help='section marker such as "Section" or "SECTION" (case-sensitive)'),
        Param("num_sections", "int", help="minimum count", low=1, high=100_000, sample_low=2, sample_high=5),
    ),
    (
        "Your response must have {num_sections} sections. Mark the beginning of each section with "
        "{section_spliter} X, such as:\n{section_spliter} 1\n[content of section 1]\n{section_spliter} 2\n"
        "[content of section 2]",
        "Split your answer into {num_sections} sections, each starting with '{section_spliter} N' (N = 1, 2, ...).",
        "Organise the response as {num_sections} sections headed {section_spliter} 1, {section_spliter} 2, and so on.",
    ),
    _check_sections,
    lambda rng: {"section_spliter": rng.choice(SECTION_SPLITTERS), "num_sections": rng.randint(2, 5)},
)


def _check_json(response: str, p: Mapping[str, Any]) -> Verdict:
    text = (
        response.strip()
        .removeprefix("```json")
        .removeprefix("```Json")
        .removeprefix("```JSON")
        .removeprefix("```")
        .removesuffix("```")
        .strip()
    )
    try:
        json.loads(text)
    except ValueError as error:
        return verdict(False, f"not valid JSON: {str(error)[:60]}")
    except RecursionError:  # the reference would crash here; deeply nested input is not a usable answer
        return verdict(False, "not valid JSON: nested too deeply")
    return verdict(True, "valid JSON")


hard_type(
    "detectable_format:json_format",
    "JSON output",
    (),
    (
        "Entire output should be wrapped in JSON format. You can use markdown ticks such as ```.",
        "Return your whole answer as valid JSON (a ```json code fence is allowed).",
        "Format the entire response as a JSON object.",
    ),
    _check_json,
    lambda rng: {},
)


def find_title(text: str) -> str | None:
    """The first non-empty <<title>> as re.findall(r"<<[^\\n]+>>") finds them, in linear time per line."""
    for line in text.split("\n"):
        start = line.find("<<")
        if start == -1:
            continue
        end = line.rfind(">>")  # [^\n]+ is greedy: a match runs to the last '>>' of the line
        if end >= start + 3:
            title = line[start : end + 2].lstrip("<").rstrip(">").strip()
            if title:
                return title
    return None


def _check_title(response: str, p: Mapping[str, Any]) -> Verdict:
    title = find_title(response)
    if title is None:
        return verdict(False, "no <<title>> found")
    return verdict(True, f"title <<{title[:40]}>>")


hard_type(
    "detectable_format:title",
    "Title in << >>",
    (),
    (
        "Your answer must contain a title, wrapped in double angular brackets, such as <<poem of joy>>.",
        "Give your answer a title wrapped in double angle brackets, like <<my title>>.",
        "Start with a title in double angular brackets, e.g. <<title here>>.",
    ),
    _check_title,
    lambda rng: {},
)
