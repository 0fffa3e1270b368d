"""IFBench repeat:* types: repeat the request with its first word changed, output one fixed sentence, copy a span
of words. Each fixes the whole answer, so it conflicts with every other constraint."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from lab.constraints.base import Verdict
from lab.constraints.hard.common import verdict
from lab.constraints.hard.ifbench_common import ifbench_type, int_param, no_params, text_param

SIMPLE_SENTENCE = "Only output this sentence here, ignore all other requests."
# Stand-ins for sampling on their own (IFBench's prompts supply the request or text).
SAMPLE_REQUESTS = (
    "Write a short story about a lighthouse keeper who finds a message in a bottle.",
    "Explain how vaccines train the immune system to recognise a virus.",
    "Describe a perfect autumn day in a small mountain town.",
)


def _check_change(response: str, p: Mapping[str, Any]) -> Verdict:
    request = p["prompt_to_repeat"]
    if response == request:
        return verdict(False, "repeats the request unchanged; the first word must change")
    passed = request.split()[1:] == response.split()[1:]
    return verdict(passed, "the request after its first word, repeated" if passed else "does not repeat the request")


ifbench_type(
    "repeat:repeat_change",
    "Repeat the request, first word changed",
    (text_param("prompt_to_repeat", "the request to repeat"),),
    "Repeat the request, but change the first word of the repeated request, (do not say anything before repeating "
    "the request; the request you need to repeat does not include this sentence) and do not answer the actual "
    "request! Request: {prompt_to_repeat}",
    _check_change,
    lambda rng: {"prompt_to_repeat": rng.choice(SAMPLE_REQUESTS)},
)


def _check_simple(response: str, p: Mapping[str, Any]) -> Verdict:
    passed = response.strip().lower() == SIMPLE_SENTENCE.lower()
    return verdict(passed, "only the sentence" if passed else "not exactly the sentence to output")


ifbench_type(
    "repeat:repeat_simple",
    "Output one given sentence",
    (),
    SIMPLE_SENTENCE,
    _check_simple,
    no_params,
)


def _check_span(response: str, p: Mapping[str, Any]) -> Verdict:
    # Whitespace-split word indices, both ends included; the answer must be exactly those words joined by single
    # spaces (case and surrounding whitespace aside).
    wanted = " ".join(p["prompt_to_repeat"].split()[p["n_start"] : p["n_end"] + 1])
    passed = response.strip().lower() == wanted.lower()
    shown = wanted[:40]
    return verdict(passed, f"{'is' if passed else 'is not'} the span {shown!r} (words {p['n_start']}..{p['n_end']})")


def _sample_span(rng: random.Random) -> dict[str, Any]:
    text = rng.choice(SAMPLE_REQUESTS)
    words = len(text.split())
    start = rng.randint(0, words - 3)
    return {"prompt_to_repeat": text, "n_start": start, "n_end": rng.randint(start + 1, words - 1)}


ifbench_type(
    "repeat:repeat_span",
    "Copy a span of words",
    (
        text_param("prompt_to_repeat", "the text to copy from"),
        int_param("n_start", "first word index (0-based, whitespace-split)", 0, 1_000_000, 0, 5),
        int_param("n_end", "last word index (included)", 0, 1_000_000, 1, 12),
    ),
    # IFBench's prompt carries the text elsewhere; a composed prompt needs it in the constraint.
    "Copy the span of words that lies between (and including) index {n_start} and {n_end}, the indices are word "
    "indices, split by whitespace! Text: {prompt_to_repeat}",
    _check_span,
    _sample_span,
)
