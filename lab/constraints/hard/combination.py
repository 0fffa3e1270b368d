"""IFEval combination types (two responses, repeat the prompt) and start/end types (end phrase, quotation)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lab.constraints.base import Param, Verdict
from lab.constraints.hard.common import counted, hard_type, verdict

ENDING_OPTIONS = ("Any other questions?", "Is there anything else I can help with?")
# repeat_prompt's prompt_to_repeat must be the task text itself; the composer sets it. These stand in for
# sampling the parameter on its own.
_SAMPLE_REQUESTS = (
    "Write a short story about a lighthouse keeper.",
    "Explain how vaccines train the immune system.",
    "Describe a perfect day in your home town.",
)


def _check_two_responses(response: str, p: Mapping[str, Any]) -> Verdict:
    parts = response.split("******")
    answers = []
    for index, part in enumerate(parts):
        if part.strip():
            answers.append(part)
        elif index not in (0, len(parts) - 1):
            return verdict(False, "empty response between ****** separators")
    if len(answers) != 2:
        return verdict(False, f"{counted(len(answers), 'response')} separated by ******, needs 2")
    if answers[0].strip() == answers[1].strip():
        return verdict(False, "the two responses are identical")
    return verdict(True, "2 different responses separated by ******")


hard_type(
    "combination:two_responses",
    "Two different responses",
    (),
    (
        "Give two different responses. Responses and only responses should be separated by 6 asterisk symbols: ******.",
        "Write two distinct answers, separated only by a line of six asterisks (******).",
        "Provide two different versions of your answer and put ****** between them.",
    ),
    _check_two_responses,
    lambda rng: {},
)


def _check_repeat_prompt(response: str, p: Mapping[str, Any]) -> Verdict:
    wanted = p["prompt_to_repeat"].strip().lower()
    if response.strip().lower().startswith(wanted):
        return verdict(True, "starts with the request, repeated word for word")
    return verdict(False, f"does not start with the request ({wanted[:30]!r}...)")


hard_type(
    "combination:repeat_prompt",
    "Repeat the request first",
    (Param("prompt_to_repeat", "str", help="the request to repeat verbatim (the task text)"),),
    (
        "First repeat the request word for word without change, then give your answer (1. do not say any words or "
        "characters before repeating the request; 2. the request you need to repeat does not include this "
        "sentence)",
        "Begin by restating the request exactly as written, word for word, and only then answer it.",
        "Copy the request verbatim at the start of your response (nothing before it), then give your answer.",
    ),
    _check_repeat_prompt,
    lambda rng: {"prompt_to_repeat": rng.choice(_SAMPLE_REQUESTS)},
)


def _check_end(response: str, p: Mapping[str, Any]) -> Verdict:
    phrase = p["end_phrase"].strip().lower()
    if response.strip().strip('"').lower().endswith(phrase):
        return verdict(True, f"ends with {p['end_phrase'].strip()!r}")
    return verdict(False, f"does not end with {p['end_phrase'].strip()!r}")


hard_type(
    "startend:end_checker",
    "End with a phrase",
    (Param("end_phrase", "str", help="the exact closing phrase"),),
    (
        "Finish your response with this exact phrase {end_phrase}. No other words should follow this phrase.",
        "End your answer with the exact phrase '{end_phrase}', with nothing after it.",
        "Your response must close with the words: {end_phrase}",
    ),
    _check_end,
    lambda rng: {"end_phrase": rng.choice(ENDING_OPTIONS)},
)


def _check_quotation(response: str, p: Mapping[str, Any]) -> Verdict:
    text = response.strip()
    if len(text) > 1 and text[0] == '"' and text[-1] == '"':
        return verdict(True, "wrapped in double quotes")
    return verdict(False, "not wrapped in double quotation marks")


hard_type(
    "startend:quotation",
    "Wrap in double quotes",
    (),
    (
        "Wrap your entire response with double quotation marks.",
        'Put your whole answer inside double quotes ("...").',
        "Enclose the entire response in double quotation marks.",
    ),
    _check_quotation,
    lambda rng: {},
)
