"""Soft constraint types (CFBench taxonomy): need judgement, so they are scored by a SoftScorer, not by code.

Registers one ConstraintType per entry of soft_catalogue.CATALOGUE plus `soft:free_text` (the user's own words),
and declares which soft constraints contradict each other (SOFT_PARAM_CONFLICTS; type-level ones in `.conflicts`).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from lab.constraints.base import ConstraintType, Param
from lab.constraints.registry import register
from lab.constraints.soft_catalogue import CATALOGUE, SoftSpec

FREE_TEXT = "soft:free_text"

# Types that each set the whole voice of the response: two of them at once would contradict.
_VOICES = ("soft:role_play", "soft:expert_persona", "soft:authorial_style", "soft:writing_style")
_TYPE_CONFLICTS: tuple[tuple[str, str], ...] = (
    *((a, b) for i, a in enumerate(_VOICES) for b in _VOICES[i + 1 :]),
    ("soft:tone", "soft:emotion"),  # both set the emotional colouring ("two tones")
    ("soft:form", "soft:writing_style"),  # two text shapes
    ("soft:viewpoint", "soft:role_play"),
    ("soft:viewpoint", "soft:expert_persona"),
    ("soft:narrative_person", "soft:role_play"),  # a persona speaks in the first person
    ("soft:narrative_person", "soft:expert_persona"),
)

# Value-level contradictions between soft constraints: ((type, values), (type, values)); None = any value.
# These are judgement calls, kept small and explicit so a sampled set never asks for the impossible.
ValueSet = frozenset[str] | None
SOFT_PARAM_CONFLICTS: tuple[tuple[tuple[str, ValueSet], tuple[str, ValueSet]], ...] = tuple(
    ((a, None if av is None else frozenset(av)), (b, None if bv is None else frozenset(bv)))
    for (a, av), (b, bv) in (
        (("soft:humour", None), ("soft:tone", {"serious", "urgent"})),
        (("soft:humour", None), ("soft:emotion", {"sadness", "anxiety", "longing", "frustration"})),
        (("soft:humour", None), ("soft:formality", {"very formal"})),
        (("soft:humour", None), ("soft:purpose", {"warn the reader about a danger"})),
        (("soft:formality", {"casual", "very casual and chatty"}), ("soft:writing_style", {"an academic paper"})),
        (
            ("soft:formality", {"very formal", "formal"}),
            ("soft:writing_style", {"a children's picture book", "a sports commentary"}),
        ),
        (("soft:formality", {"very formal", "formal"}), ("soft:vocabulary", {"words a young child would know"})),
        (("soft:formality", {"very formal"}), ("soft:situation", {"it will be shared in a group chat among friends"})),
        (
            ("soft:stance", {"strongly in favour", "persuasive, urging the reader to act"}),
            ("soft:viewpoint", {"a sceptic"}),
        ),
        (("soft:stance", {"cautiously sceptical", "critical but fair"}), ("soft:viewpoint", {"an optimist"})),
        (
            ("soft:avoid", {"personal opinions"}),
            ("soft:stance", {"strongly in favour", "persuasive, urging the reader to act", "critical but fair"}),
        ),
        (("soft:avoid", {"personal opinions"}), ("soft:examples", {"a brief personal anecdote"})),
        (("soft:avoid", {"any mention of money or prices"}), ("soft:content_focus", {"costs and budget"})),
        (
            ("soft:avoid", {"any mention of money or prices"}),
            ("soft:assumption", {"the budget is under fifty dollars"}),
        ),
        (
            ("soft:avoid", {"negative or discouraging language"}),
            ("soft:stance", {"cautiously sceptical", "critical but fair"}),
        ),
        (
            ("soft:avoid", {"negative or discouraging language"}),
            ("soft:emotion", {"sadness", "frustration", "anxiety"}),
        ),
        (("soft:avoid", {"negative or discouraging language"}), ("soft:tone", {"sceptical"})),
        (("soft:avoid", {"negative or discouraging language"}), ("soft:viewpoint", {"a sceptic"})),
        (("soft:avoid", {"negative or discouraging language"}), ("soft:purpose", {"warn the reader about a danger"})),
        (("soft:avoid", {"medical or legal advice"}), ("soft:expert_persona", {"a medical doctor", "a lawyer"})),
        (("soft:assumption", {"the reader knows nothing about the topic"}), ("soft:audience", {"domain experts"})),
        (
            ("soft:clarity", {"use precise technical terminology"}),
            ("soft:audience", {"children around eight years old"}),
        ),
        (
            ("soft:vocabulary", {"simple everyday words", "words a young child would know"}),
            ("soft:clarity", {"use precise technical terminology"}),
        ),
        (
            ("soft:vocabulary", {"rich and sophisticated vocabulary"}),
            ("soft:clarity", {"use plain language a twelve-year-old could follow"}),
        ),
        (
            ("soft:vocabulary", {"rich and sophisticated vocabulary"}),
            ("soft:audience", {"children around eight years old", "non-native English speakers"}),
        ),
        (("soft:sentence_style", {"long, flowing sentences"}), ("soft:clarity", {"keep to one idea per sentence"})),
        (("soft:form", {"a dialogue between two people"}), ("soft:narrative_person", None)),
        (("soft:purpose", {"reassure a worried reader"}), ("soft:emotion", {"anxiety", "frustration"})),
        (("soft:purpose", {"reassure a worried reader"}), ("soft:tone", {"urgent"})),
        (("soft:purpose", {"warn the reader about a danger"}), ("soft:tone", {"playful"})),
    )
)


def _type_conflicts(type_id: str) -> frozenset[str]:
    return frozenset(b if a == type_id else a for a, b in _TYPE_CONFLICTS if type_id in (a, b))


def _choice_sampler(param: str, choices: tuple[str, ...]):
    def sample(rng: random.Random) -> dict[str, Any]:
        return {param: rng.choice(choices)}

    return sample


def _build(spec: SoftSpec) -> ConstraintType:
    type_id = f"soft:{spec.name}"
    return ConstraintType(
        id=type_id,
        kind="soft",
        group=spec.group,
        title=spec.title,
        params=(Param(spec.param, "choice", help=spec.help, choices=spec.choices),),
        phrasings=spec.phrasings,
        sample_fn=_choice_sampler(spec.param, spec.choices),
        conflicts=_type_conflicts(type_id),
    )


def _free_text_format(params: Mapping[str, Any]) -> dict[str, Any]:
    return {"text": params["text"].strip()}


SOFT_TYPES: tuple[ConstraintType, ...] = tuple(register(_build(spec)) for spec in CATALOGUE)

FREE_TEXT_TYPE = register(
    ConstraintType(
        id=FREE_TEXT,
        kind="soft",
        group="free text",
        title="Your own constraint",
        params=(Param("text", "str", help="the constraint in your own words, e.g. 'Sound like a pirate.'"),),
        phrasings=("{text}",),
        format_fn=_free_text_format,
    )
)

# Soft types that random sampling may pick (free text needs the user's words, so it is never sampled).
SAMPLEABLE_SOFT_IDS: tuple[str, ...] = tuple(t.id for t in SOFT_TYPES)
