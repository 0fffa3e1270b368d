"""What every constraint type is: typed parameters, instruction text, and a check giving a Verdict."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from lab.errors import LabError

Kind = Literal["hard", "soft"]
# Where a type comes from: IFEval's 25 hard types, IFBench's 58 (out-of-domain for IFEval-trained policies), or soft.
Family = Literal["ifeval", "ifbench", "soft"]
FAMILIES: tuple[Family, ...] = ("ifeval", "ifbench", "soft")


@dataclass(frozen=True)
class Verdict:
    """Result of checking one constraint on one response."""

    passed: bool
    score: float  # in [0, 1]; hard constraints give 0.0 or 1.0
    evidence: str  # short human-readable reason, e.g. "412 words, needs < 300"


@dataclass(frozen=True)
class Param:
    """One typed parameter of a constraint type.

    `kind` is one of "int", "str", "char" (one non-space character), "choice", "str_list", "bool".
    `low`/`high` bound ints (inclusive); `choices` lists allowed values for "choice".
    `sample_low`/`sample_high` are the ranges used when sampling training data (the paper's ranges).
    """

    name: str
    kind: str
    help: str = ""
    low: int | None = None
    high: int | None = None
    choices: tuple[str, ...] = ()
    required: bool = True
    sample_low: int | None = None
    sample_high: int | None = None

    def validate(self, value: Any, type_id: str) -> Any:
        where = f"{type_id}.{self.name}"
        if value is None:
            if self.required:
                raise LabError("is required", field=where)
            return None
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
                    value = int(value.strip())
                else:
                    raise LabError(f"must be an integer, got {value!r}", field=where)
            if self.low is not None and value < self.low:
                raise LabError(f"must be >= {self.low}, got {value}", field=where)
            if self.high is not None and value > self.high:
                raise LabError(f"must be <= {self.high}, got {value}", field=where)
            return value
        if self.kind == "choice":
            if value not in self.choices:
                allowed = ", ".join(repr(c) for c in self.choices)
                raise LabError(f"must be one of {allowed}, got {value!r}", field=where)
            return value
        if self.kind == "str":
            if not isinstance(value, str) or not value.strip():
                raise LabError(f"must be a non-empty string, got {value!r}", field=where)
            return value
        if self.kind == "char":
            if not isinstance(value, str) or len(value) != 1 or value.isspace():
                raise LabError(f"must be one character, got {value!r}", field=where)
            return value
        if self.kind == "str_list":
            if isinstance(value, str) or not isinstance(value, Sequence):
                raise LabError(f"must be a list of strings, got {value!r}", field=where)
            items = list(value)
            if not items or not all(isinstance(v, str) and v.strip() for v in items):
                raise LabError(f"must be a non-empty list of non-empty strings, got {value!r}", field=where)
            return items
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise LabError(f"must be true or false, got {value!r}", field=where)
            return value
        raise LabError(f"unknown parameter kind {self.kind!r}", field=where)


CheckFn = Callable[[str, Mapping[str, Any]], Verdict]
SampleFn = Callable[[random.Random], dict[str, Any]]


@dataclass(frozen=True)
class ConstraintType:
    """A constraint type: id (IFEval ids for hard types), kind, typed params and phrasings.

    `phrasings` are str.format templates over the params; `describe` picks one.
    Hard types have `check`; soft types are scored by a SoftScorer (see lab.reward).
    """

    id: str
    kind: Kind
    group: str
    title: str
    params: tuple[Param, ...]
    phrasings: tuple[str, ...]
    check_fn: CheckFn | None = None
    sample_fn: SampleFn | None = None
    format_fn: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    conflicts: frozenset[str] = field(default_factory=frozenset)
    # Checks that span several params (e.g. nth_paragraph <= num_paragraphs); raises LabError naming the field.
    validate_fn: Callable[[dict[str, Any]], None] | None = None
    # "ifeval" or "ifbench" for hard types (whose ids, kwargs and checks they follow); soft types are always "soft".
    family: Family = "ifeval"

    def __post_init__(self) -> None:
        if self.kind == "soft" and self.family != "soft":
            object.__setattr__(self, "family", "soft")

    def validate(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """Check and normalise params; unknown names and bad values raise LabError naming the field."""
        given = dict(params or {})
        # IFEval rows carry null kwargs for unused parameters: ignore them.
        given = {k: v for k, v in given.items() if v is not None}
        known = {p.name for p in self.params}
        unknown = sorted(set(given) - known)
        if unknown:
            allowed = ", ".join(sorted(known)) or "none"
            raise LabError(f"unknown parameter {unknown[0]!r}; allowed: {allowed}", field=f"{self.id}.{unknown[0]}")
        values = {p.name: p.validate(given.get(p.name), self.id) for p in self.params if p.name in given or p.required}
        if self.validate_fn is not None:
            self.validate_fn(values)
        return values

    def describe(self, params: Mapping[str, Any] | None = None, variant: int = 0) -> str:
        """Instruction text for these params, in phrasing number `variant` (wraps around)."""
        values = self.validate(params)
        fmt = self.format_fn(values) if self.format_fn else values
        return self.phrasings[variant % len(self.phrasings)].format(**fmt)

    def check(self, response: str, params: Mapping[str, Any] | None = None) -> Verdict:
        if self.check_fn is None:
            raise LabError(f"{self.id} is a soft constraint and needs a soft scorer", field="constraint")
        return self.check_fn(response, self.validate(params))

    def sample_params(self, rng: random.Random) -> dict[str, Any]:
        if self.sample_fn is not None:
            return self.validate(self.sample_fn(rng))
        return {}
