"""IFBench format:* types: nesting, options, one word per line, emoji endings, indentation stairs, quotes with
explanations, custom bullets and sub-bullets, HTML thesis, title case, a template, no whitespace."""

from __future__ import annotations

import re
import string
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from typing import Any

from lab.constraints.base import Verdict
from lab.constraints.hard.common import counted, verdict
from lab.constraints.hard.ifbench_common import ifbench_type, no_params, text_param
from lab.constraints.hard.ifbench_text import PUNCTUATION_SPACE, split_into_sentences, without_punctuation
from lab.constraints.text_stats import word_tokens

_PAIRS = {")": "(", "]": "[", "}": "{"}
_LETTER_OPTIONS = re.compile(r"\W*[aA]\W*[bB]\W*[cC]\W*")
OPTION_SAMPLES = ("yes/no/maybe", "I know or I don't know", "a), b), c), d)")
LIST_SEPARATORS = ("...", "SEPARATOR", "!?!?", "-")
TEMPLATE_PARTS = ("My Answer:", "My Conclusion:", "Future Outlook:")
_LOWER_RUN = re.compile(r"[a-z]+")
_WHITESPACE = re.compile(r"\s")


def _check_parentheses(response: str, p: Mapping[str, Any]) -> Verdict:
    stack: list[str] = []
    deepest = 0
    for char in response:
        if char in "([{":
            stack.append(char)
            deepest = max(deepest, len(stack))
        elif char in ")]}":
            if stack and stack[-1] == _PAIRS[char]:
                stack.pop()
                if deepest >= 5:  # a group at least 5 deep has just been closed
                    return verdict(True, f"brackets nested {deepest} deep and closed")
            else:  # a mismatch starts the count afresh, as in the reference
                stack, deepest = [], 0
    return verdict(False, "no correctly closed nesting 5 levels deep")


ifbench_type(
    "format:parentheses",
    "Brackets nested 5 deep",
    (),
    "Nest parentheses (and [brackets {{and braces}}]) at least 5 levels deep.",
    _check_parentheses,
    no_params,
)


def _check_quotes(response: str, p: Mapping[str, Any]) -> Verdict:
    open_quotes: list[str] = []
    reached = 0
    for char in response:
        if open_quotes and char == open_quotes[-1]:
            open_quotes.pop()
            if reached - len(open_quotes) >= 3:
                return verdict(True, f"quotes nested {reached} deep")
        elif char in "\"'":
            open_quotes.append(char)
            reached = max(reached, len(open_quotes))
    return verdict(False, "no quotes nested 3 levels deep")


ifbench_type(
    "format:quotes",
    "Quotes nested 3 deep",
    (),
    "Include quotes within quotes within quotes, at least 3 levels deep, alternating between double quotes and "
    "single quotes.",
    _check_quotes,
    no_params,
)


def parse_options(options: str) -> tuple[bool, list[str]]:
    """(exact match required, the options) as IFBench reads an options string ("a/b", "x or y", "a), b), c)")."""
    exact = _LETTER_OPTIONS.match(options) is not None
    separator = "/" if "/" in options else "or" if "or" in options else ","
    return exact, [option.strip() for option in options.split(separator)]


def _check_options(response: str, p: Mapping[str, Any]) -> Verdict:
    exact, options = parse_options(p["options"])
    if exact:
        return verdict(response in options, f"answer must be exactly one of {options} (letter options)")
    answer = response.strip(PUNCTUATION_SPACE).lower()
    passed = any(option.strip(PUNCTUATION_SPACE).lower() == answer for option in options)
    return verdict(passed, f"answer {answer[:30]!r} {'is' if passed else 'is not'} one of {options}")


ifbench_type(
    "format:options",
    "Answer with one option",
    (text_param("options", "the options as IFBench writes them: 'yes/no/maybe', 'A or B', 'a), b), c), d)'"),),
    "Answer with one of the following options: {options}. Do not give any explanation.",
    _check_options,
    lambda rng: {"options": rng.choice(OPTION_SAMPLES)},
)


def _check_newlines(response: str, p: Mapping[str, Any]) -> Verdict:
    text = without_punctuation(response).strip()
    lines = sum(1 for line in text.split("\n") if line != "")
    words = len(text.split())
    return verdict(lines == words, f"{counted(words, 'word')} on {counted(lines, 'non-empty line')}; needs one each")


ifbench_type(
    "format:newline",
    "One word per line",
    (),
    "Write each word on a new line.",
    _check_newlines,
    no_params,
)


def _is_emoji(char: str) -> bool:
    from emoji import EMOJI_DATA  # emoji.is_emoji(char) is this lookup

    return char in EMOJI_DATA


def _check_emoji(response: str, p: Mapping[str, Any]) -> Verdict:
    sentences = split_into_sentences(response)
    for i, sentence in enumerate(sentences):
        bare = without_punctuation(sentence).strip()
        if not bare:
            return verdict(False, f"sentence {i + 1} is only punctuation")
        if _is_emoji(bare[-1]) or _is_emoji(bare[-2] if len(bare) > 1 else bare[-1]):
            continue
        if i == len(sentences) - 1:
            return verdict(False, f"last sentence ends {bare[-10:]!r}, no emoji")
        following = without_punctuation(sentences[i + 1]).strip()  # an emoji split off to the next "sentence"
        if not following or not _is_emoji(following[0]):
            return verdict(False, f"sentence {i + 1} ends {bare[-10:]!r}, no emoji")
    return verdict(True, f"{counted(len(sentences), 'sentence')}, each ending with an emoji")


ifbench_type(
    "format:emoji",
    "Emoji after every sentence",
    (),
    "Please use an emoji at the end of every sentence.",
    _check_emoji,
    no_params,
)


def lines_after_blank_removal(lines: Sequence[str]) -> list[str]:
    """The reference's `for line in lines: if not line.strip(): lines.remove(line)`, in linear time.

    Removing while iterating deletes the first equal (blank) line still present, at or before the current one,
    and so skips the line after it; both effects are replayed with a queue of present blank lines per value.
    """
    removed = [False] * len(lines)
    present: defaultdict[str, deque[int]] = defaultdict(deque)
    k = 0
    while k < len(lines):
        line = lines[k]
        if line.strip():
            k += 1
            continue
        present[line].append(k)
        removed[present[line].popleft()] = True
        if k + 1 < len(lines) and not lines[k + 1].strip():  # the skipped line stays in the list
            present[lines[k + 1]].append(k + 1)
        k += 2
    return [line for line, gone in zip(lines, removed, strict=True) if not gone]


def _check_stairs(response: str, p: Mapping[str, Any]) -> Verdict:
    lines = lines_after_blank_removal(response.split("\n"))
    indents = [len(line) - len(line.lstrip(" ")) for line in lines]
    for i in range(len(indents) - 1):
        if indents[i + 1] <= indents[i]:
            return verdict(False, f"line {i + 2} is indented {indents[i + 1]} spaces, after {indents[i]}")
    return verdict(True, f"{counted(len(lines), 'line')}, each indented further")


ifbench_type(
    "format:line_indent",
    "Indentation stairs",
    (),
    "Create stairs by incrementally indenting each new line.",
    _check_stairs,
    no_params,
)

_NOT_QUOTE_ENDS = string.digits + string.punctuation.replace('"', "")


def _quote_text(response: str) -> str:
    text = response.replace("“", '"').replace("”", '"').replace("'\"'", "")
    return "".join(text.split())


def _check_quote_explained(response: str, p: Mapping[str, Any]) -> Verdict:
    text = _quote_text(response)
    if '""' in text:
        return verdict(False, "a quoted phrase follows another with no explanation between")
    tail = text.strip(_NOT_QUOTE_ENDS)
    if tail and tail[-1] == '"':
        return verdict(False, "ends with a quoted phrase, not an explanation")
    return verdict(True, "every quoted phrase is followed by unquoted text")


ifbench_type(
    "format:quote_unquote",
    "Quotes followed by explanations",
    (),
    "Every quoted phrase must be followed by an unquoted explanation.",
    _check_quote_explained,
    no_params,
)


def _check_separator(response: str, p: Mapping[str, Any]) -> Verdict:
    count = response.count(p["sep"])
    return verdict(count >= 2, f"{p['sep']!r} used {count}×, needs >= 2")


ifbench_type(
    "format:list",
    "List with a custom marker",
    (text_param("sep", "the marker used instead of bullet points"),),
    "Answer with a list of items, instead of bullet points use {sep}.",
    _check_separator,
    lambda rng: {"sep": rng.choice(LIST_SEPARATORS)},
)


def _check_thesis(response: str, p: Mapping[str, Any]) -> Verdict:
    start = response.find("<i>")
    if start == -1:
        start = response.find("<em>")
        if start == -1:
            return verdict(False, "no <i> or <em>")
    text = response[start:]
    end = text.find("</i>")
    if end == -1:
        end = text.find("</em>")
        if end == -1:
            return verdict(False, "italics never closed")
    if not text[3:end].strip():  # the reference skips 3 characters for <i> and <em> alike
        return verdict(False, "empty italic thesis")
    if not text[end + 4 :].strip():
        return verdict(False, "nothing follows the italic thesis")
    return verdict(True, "an HTML-italic thesis followed by text")


ifbench_type(
    "format:thesis",
    "Italic thesis statement",
    (),
    "Each section must begin with a thesis statement in italics, use HTML to indicate the italics.",
    _check_thesis,
    no_params,
)


def _check_sub_bullets(response: str, p: Mapping[str, Any]) -> Verdict:
    parts = response.split("*")
    for number, part in enumerate(parts[1:], start=1):
        if "-" not in part:
            return verdict(False, f"no '-' after '*' number {number}")
    return verdict(True, f"{counted(len(parts) - 1, '*')} each followed by a '-'")


ifbench_type(
    "format:sub-bullets",
    "Bullets with sub-bullets",
    (),
    "Your response must include bullet points denoted by * and at least one sub-bullet point denoted by - for each "
    "bullet point.",
    _check_sub_bullets,
    no_params,
)


def _check_sentences_then_bullets(response: str, p: Mapping[str, Any]) -> Verdict:
    # `in_prose` mirrors the reference's variable: True, then the last line's sentence list (so an empty line,
    # whose list is empty, ends the prose part), then False once bullets start.
    in_prose: Any = True
    sentences = bullets = 0
    for number, line in enumerate(response.split("\n"), start=1):
        if line.strip().startswith("*"):
            in_prose = False
            if sentences < 2:
                return verdict(False, f"bullet on line {number} after {counted(sentences, 'sentence')}; needs 2 first")
            bullets += 1
        elif in_prose:
            in_prose = split_into_sentences(line.strip())
            sentences += len(in_prose)
        else:
            return verdict(False, f"line {number} is neither a bullet nor part of the opening sentences")
    return verdict(bullets >= 2, f"{counted(sentences, 'sentence')} then {counted(bullets, 'bullet')}; needs 2 and 2")


ifbench_type(
    "format:no_bullets_bullets",
    "Sentences, then bullets",
    (),
    "Your answer must contain at least two sentences ending in a period followed by at least two bullet points "
    "denoted by *.",
    _check_sentences_then_bullets,
    no_params,
)


def _lower_case_chunk(text: str) -> str | None:
    """The first whitespace-delimited chunk of lower-case ASCII letters (runs of letters are found first)."""
    for run in _LOWER_RUN.finditer(text):
        start, end = run.span()
        if (start == 0 or text[start - 1].isspace()) and (end == len(text) or text[end].isspace()):
            return run.group()
    return None


def _check_title_case(response: str, p: Mapping[str, Any]) -> Verdict:
    # A whitespace-delimited run of lower-case letters is (or splits into) lower-case tokens: fails, no tokenising.
    plain = _lower_case_chunk(response)
    if plain:
        return verdict(False, f"{plain[:20]!r} is not capitalised")
    if not any(map(str.islower, response)):  # tokens are made of the text's characters: none can start lower-case
        return verdict(True, "no lower-case letter at all")
    for word in word_tokens(response):
        head, rest = word[0], word[1:]
        if not head.isalpha() or (head.isupper() and rest.islower()):  # tokens not starting with a letter: skipped
            continue
        if head.islower() and (not rest or rest.isupper() or rest.islower()):  # a lone "a" fails too
            return verdict(False, f"{word[:20]!r} is not capitalised")
    return verdict(True, "every word token is capitalised")


ifbench_type(
    "format:title_case",
    "Title case",
    (),
    "Write the entire response in title case (capitalize the first letter of every major word).",
    _check_title_case,
    no_params,
)


def _check_template(response: str, p: Mapping[str, Any]) -> Verdict:
    missing = [part for part in TEMPLATE_PARTS if part not in response]
    return verdict(not missing, f"missing {', '.join(missing)}" if missing else "all three template labels present")


ifbench_type(
    "format:output_template",
    "Answer/Conclusion/Outlook template",
    (),
    "Use this exact template for your response: My Answer: [answer] My Conclusion: [conclusion] Future Outlook: "
    "[outlook]",
    _check_template,
    no_params,
)


def _check_no_whitespace(response: str, p: Mapping[str, Any]) -> Verdict:
    space = _WHITESPACE.search(response)  # \s is str.isspace() for str patterns
    if space:
        return verdict(False, f"whitespace {space.group()!r} at character {space.start() + 1}")
    return verdict(True, "no whitespace")


ifbench_type(
    "format:no_whitespace",
    "No whitespace",
    (),
    "The output should not contain any whitespace.",
    _check_no_whitespace,
    no_params,
)
