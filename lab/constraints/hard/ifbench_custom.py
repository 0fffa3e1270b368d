"""IFBench custom:* types: whole tasks with a checkable answer (multiples of 7, four growing multiple-choice
questions, Africa in reverse order, reversed sentences, an alphabet story, European capitals, three CSV tables,
Napoleon's battle dates). Each fixes the whole answer, so it conflicts with every other constraint."""

from __future__ import annotations

import csv
import io
import re
import string
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

from lab.constraints.base import Verdict
from lab.constraints.hard.common import counted, verdict
from lab.constraints.hard.ifbench_common import REFERENCE_RAISES, ifbench_type, no_params
from lab.constraints.hard.ifbench_text import PUNCTUATION_SPACE, split_into_sentences, without_punctuation

_DIGITS = re.compile(r"\d+")
MULTIPLES_OF_7 = [str(i) for i in range(14, 51, 7)]
_QUESTION_HEAD = re.compile(r"Question \d+[\.|\):;]?\s*")
_OPTION_LINE = re.compile(r"^[A-Ea-e][\.|\)]\s*\w+")
_SPECIAL = re.compile(r"[^\d\w\s]")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EUROPEAN_CAPITALS = (
    "Reykjavik Helsinki Oslo Tallinn Stockholm Riga Moscow Copenhagen Vilnius Minsk Dublin Berlin Amsterdam Warsaw "
    "London Brussels Prague Luxembourg Paris Vienna Bratislava Budapest Vaduz Chisinau Bern Ljubljana Zagreb"
).split()
_CITY_HEADER = ["ID", "Country", "City", "Year", "Count"]
_PRODUCT_HEADER = re.compile(
    r'^(ProductID|"ProductID"),[ \t]*(Category|"Category"),[ \t]*(Brand|"Brand"),[ \t]*(Price|"Price"),'
    r'[ \t]*(Stock|"Stock")$'
)
_STUDENT_HEADER = re.compile(
    r'^(StudentID|"StudentID")\t *(Subject|"Subject")\t *(Grade|"Grade")\t *(Semester|"Semester")\t *(Score|"Score")$'
)


def _whole_task(
    type_id: str, title: str, description: str, check: Callable[[str, Mapping[str, Any]], Verdict], note: Any = None
) -> None:
    ifbench_type(type_id, title, (), description, check, no_params, note=note)


def _check_multiples(response: str, p: Mapping[str, Any]) -> Verdict:
    numbers = _DIGITS.findall(response.replace(",", ", "))
    shown = " ".join(numbers[:10]) + (" ..." if len(numbers) > 10 else "")
    return verdict(numbers == MULTIPLES_OF_7, f"numbers: {shown or 'none'}; needs exactly 14 21 28 35 42 49")


_whole_task(
    "custom:multiples",
    "Multiples of 7 from 10 to 50",
    "Count from 10 to 50 but only print multiples of 7.",
    _check_multiples,
)


def split_questions(text: str) -> list[str]:
    """re.split(r"\\n*(?:Question \\d+[\\.|\\):;]?\\s*)", text) in linear time: each split point is a "Question N"
    heading, widened left over the newlines before it (never into the previous match)."""
    parts, last = [], 0
    for match in _QUESTION_HEAD.finditer(text):
        start = match.start()
        while start > last and text[start - 1] == "\n":
            start -= 1
        parts.append(text[last:start])
        last = match.end()
    parts.append(text[last:])
    return parts


def _check_mcq(response: str, p: Mapping[str, Any]) -> Verdict:
    if response[response.find("Question") :] != response:
        return verdict(False, "does not start with 'Question' (no preamble or explanation allowed)")
    questions = split_questions(response)
    if questions[0] == "":
        questions = questions[1:]
    questions = [q.strip() for q in questions if q.strip()]
    if len(questions) != 4:
        return verdict(False, f"{counted(len(questions), 'question')}, needs 4")
    lengths = []
    for number, question in enumerate(questions, start=1):
        text, options, done = "", 0, False
        for line in question.split("\n"):
            if _OPTION_LINE.match(line.strip()):
                options += 1
                done = True
            elif not done:
                text += " " + line.strip()
        if options != 5:
            return verdict(False, f"question {number} has {counted(options, 'option')}, needs 5")
        lengths.append(len(text.strip()))
    grows = all(a < b for a, b in zip(lengths, lengths[1:], strict=False))
    return verdict(grows, f"question lengths {lengths}; needs to grow")


_whole_task(
    "custom:mcq_count_length",
    "Four growing multiple-choice questions",
    "Generate 4 multiple choice questions with 5 options each about '20th century art history'. Each question "
    'should start with the label "Question". The questions should get progressively longer. Do not provide an '
    "explanation.",
    _check_mcq,
)


def ascii_fold(text: str) -> str:
    """NFKD, then drop what is not ASCII ('São Tomé' -> 'Sao Tome'), as IFBench normalises names."""
    return unicodedata.normalize("NFKD", text).encode("ASCII", "ignore").decode("ASCII")


def _check_africa(response: str, p: Mapping[str, Any]) -> Verdict:
    lines = [s for line in response.split("\n") if (s := line.strip(PUNCTUATION_SPACE))]
    start = next((i for i, line in enumerate(lines) if "Zimbabwe" in line), None)
    if start is None:
        return verdict(False, "no line with 'Zimbabwe'")
    names = [ascii_fold(line) for line in lines[start:]]
    if len(names) < 52:
        return verdict(False, f"{len(names)} lines from Zimbabwe on, needs >= 52")
    in_order = names == sorted(names, reverse=True)
    return verdict(in_order, f"{len(names)} lines from Zimbabwe on, {'in' if in_order else 'not in'} reverse order")


_whole_task(
    "custom:reverse_newline",
    "African countries in reverse order",
    "List the countries of Africa in reverse alphabetical order, each on a new line.",
    _check_africa,
)


def _check_word_reverse(response: str, p: Mapping[str, Any]) -> Verdict:
    text = " ".join(without_punctuation(response.lower().strip()).split()[::-1])
    if "bald eagle" not in text:
        return verdict(False, "read backwards, it does not say 'bald eagle'")
    return verdict(text in split_into_sentences(text), "read backwards word by word it says 'bald eagle'")


_whole_task(
    "custom:word_reverse",
    "Answer with the words reversed",
    "What animal is the national symbol of the US? Respond to this query, but make your sentence in reverse order "
    "of what it should be, per word.",
    _check_word_reverse,
)


def _check_character_reverse(response: str, p: Mapping[str, Any]) -> Verdict:
    found = "elgae dlab" in response.lower()
    return verdict(found, "contains 'elgae dlab'" if found else "no 'elgae dlab' (bald eagle reversed)")


_whole_task(
    "custom:character_reverse",
    "Answer with the letters reversed",
    "What animal is the national symbol of the US? Respond to this query, but make your sentence in reverse order "
    "of what it should be, per letter.",
    _check_character_reverse,
)


_LEADING = string.punctuation + string.whitespace


def _alphabet_story(text: str) -> tuple[bool, str]:
    """(passed, evidence) for the 26-sentence alphabet story; leading punctuation is skipped ('"Also ...' is A)."""
    sentences = split_into_sentences(text)
    if len(sentences) != 26:
        return False, f"{counted(len(sentences), 'sentence')}, needs 26"
    for i, sentence in enumerate(sentences):
        rest = sentence.lstrip(_LEADING)
        if not rest:
            return False, f"sentence {i + 1} is empty"
        if rest[0].lower() != chr(97 + i):
            return False, f"sentence {i + 1} starts {rest[:20]!r}, needs {chr(65 + i)}"
    return True, "26 sentences from A to Z"


_whole_task(
    "custom:sentence_alphabet",
    "A 26-sentence alphabet story",
    "Tell me a 26-sentence story where each sentence's first word starts with the letters of the alphabet in order.",
    lambda response, p: verdict(*_alphabet_story(response)),
)


def _check_capitals(response: str, p: Mapping[str, Any]) -> Verdict:
    capitals = [c for c in ascii_fold(response).split(",") if c.strip()]
    if len(capitals) != len(EUROPEAN_CAPITALS):
        return verdict(False, f"{len(capitals)} comma-separated names, needs {len(EUROPEAN_CAPITALS)}")
    for i, (given, wanted) in enumerate(zip(capitals, EUROPEAN_CAPITALS, strict=True), start=1):
        if given.strip() != wanted:
            return verdict(False, f"name {i} is {given.strip()[:20]!r}, needs {wanted!r}")
    return verdict(True, "the 27 capitals in order of latitude")


_whole_task(
    "custom:european_capitals_sort",
    "European capitals by latitude",
    "Give me the names of all capital cities of european countries whose latitude is higher than than 45 degrees? "
    "List the capital cities without country names, separated by commas, sorted by latitude, from highest to lowest.",
    _check_capitals,
)


def _csv_rows(text: str, delimiter: str = ",") -> list[list[str]] | None:
    """csv.reader rows, or None where the csv module raises (a field over its size limit)."""
    try:
        return list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error:
        return None


def _csv_note(check: Callable[[str], tuple[bool, str, bool]]) -> Callable[[Mapping[str, Any], str], str | None]:
    return lambda p, text: REFERENCE_RAISES if check(text)[2] else None


def _city_csv(text: str) -> tuple[bool, str, bool]:
    rows = _csv_rows(text)
    if rows is None:
        return False, "not parseable as CSV", True
    if len(rows) != 8:
        return False, f"{counted(len(rows), 'CSV row')}, needs 8 (header + 7)", False
    if rows[0] != _CITY_HEADER:
        return False, f"header {rows[0][:5]} is not {_CITY_HEADER}", False
    bad = next((i for i, row in enumerate(rows[1:], start=2) if len(row) != 5), None)
    if bad is not None:
        return False, f"row {bad} has {len(rows[bad - 1])} fields, needs 5", False
    return True, "header and 7 rows of 5 fields", False


_whole_task(
    "custom:csv_city",
    "CSV of cities",
    'Generate CSV data: The column names are ["ID", "Country", "City", "Year", "Count"], the data should be comma '
    "delimited. Please generate 7 rows.",
    lambda response, p: verdict(*_city_csv(response)[:2]),
    note=_csv_note(_city_csv),
)


def _special_quoted(field: str) -> bool:
    """re.match(r'".*[^\\d\\w\\s].*"', field) in linear time: on the first line of the field, an opening quote,
    then a character that is not a letter, digit or space, then a later quote."""
    line = field.split("\n", 1)[0]
    if not line.startswith('"'):
        return False
    special = _SPECIAL.search(line, 1)
    return special is not None and line.find('"', special.start() + 1) != -1


def _product_csv(text: str) -> tuple[bool, str, bool]:
    if not _PRODUCT_HEADER.match(text.split("\n")[0].strip()):
        return False, "first line is not the ProductID,Category,Brand,Price,Stock header", False
    rows = _csv_rows(text.replace('"', '"""'))  # the reference triples every quote before parsing
    if rows is None:
        return False, "not parseable as CSV", True
    if len(rows) != 15:
        return False, f"{counted(len(rows), 'CSV row')}, needs 15 (header + 14)", False
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != 5:
            return False, f"row {number} has {len(row)} fields, needs 5", False
        if any(_special_quoted(field) for field in row):
            return True, f"row {number} has a quoted field with a special character", False
    return False, "no quoted field with a special character", False


_whole_task(
    "custom:csv_special_character",
    "CSV with a quoted special character",
    'Generate CSV data: The column names are ["ProductID", "Category", "Brand", "Price", "Stock"], the data should '
    "be comma delimited. Please generate 14 rows. Add one field which contains a special character and enclose it in "
    "double quotes.",
    lambda response, p: verdict(*_product_csv(response)[:2]),
    note=_csv_note(_product_csv),
)


def _student_csv(text: str) -> tuple[bool, str, bool]:
    if not _STUDENT_HEADER.match(text.split("\n")[0].strip()):
        return False, "first line is not the tab-separated StudentID..Score header", False
    rows = _csv_rows(text.replace('"', '"""'), delimiter="\t")
    if rows is None:
        return False, "not parseable as CSV", True
    if len(rows) != 4:
        return False, f"{counted(len(rows), 'row')}, needs 4 (header + 3)", False
    for number, row in enumerate(rows, start=1):
        if len(row) != 5:
            return False, f"row {number} has {len(row)} fields, needs 5", False
        for field in row:
            value = field.strip()
            if not value:  # the reference indexes value[0] here and raises
                return False, f"row {number} has an empty field", True
            if not (value[0] == '"' and value[-1] == '"'):
                return False, f"row {number}: field {value[:20]!r} is not in double quotes", False
    return True, "header and 3 rows, every field quoted", False


_whole_task(
    "custom:csv_quotes",
    "Tab-separated CSV, all fields quoted",
    'Generate CSV data: The column names are ["StudentID", "Subject", "Grade", "Semester", "Score"], the data should '
    "be tab delimited. Please generate 3 rows and enclose each single field in double quotes.",
    lambda response, p: verdict(*_student_csv(response)[:2]),
    note=_csv_note(_student_csv),
)

_DAYS = {1: 31, 3: 31, 5: 31, 7: 31, 8: 31, 10: 31, 12: 31, 4: 30, 6: 30, 9: 30, 11: 30, 2: 29}


def _check_dates(response: str, p: Mapping[str, Any]) -> Verdict:
    dates = [d.strip() for d in response.strip().split(",")]
    for date in dates:
        if not _DATE.match(date):
            return verdict(False, f"{date[:20]!r} is not YYYY-MM-DD")
        year, month, day = (int(x) for x in date.split("-"))
        if not 1769 <= year <= 1821:
            return verdict(False, f"{date} is outside Napoleon's lifetime (1769-1821)")
        if month > 12 or day > _DAYS.get(month, day):
            return verdict(False, f"{date} is not a valid date")
    return verdict(True, f"{counted(len(dates), 'date')} in YYYY-MM-DD within 1769-1821")


_whole_task(
    "custom:date_format_list",
    "Napoleon's battle dates",
    "List the start dates of all the battles Napoleon fought separated by commas, use the following date format: "
    "YYYY-MM-DD. Do not provide an explanation.",
    _check_dates,
)
