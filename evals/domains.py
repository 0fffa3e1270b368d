"""Constraint families and eval-suite domains: is a suite in-domain (the types training samples by default:
IFEval's and soft ones) or out-of-domain (IFBench's 58 types, which the default training mix never samples)?

A suite file's domain comes from an explicit prefix (`ood:FILE`, or `ifbench:FILE`, which also requires every id
to be an IFBench type) or else from its ids: all IFBench -> out-of-domain, none -> in-domain, some -> mixed.
"""

from __future__ import annotations

from collections.abc import Iterable

IN_DOMAIN = "in-domain"
OUT_OF_DOMAIN = "out-of-domain"
MIXED = "mixed"
MATH = "math"
DOMAINS = (IN_DOMAIN, OUT_OF_DOMAIN, MIXED, MATH)
# The families that are out-of-domain for a policy trained on the default mix (IFEval types + soft).
OOD_FAMILIES = frozenset({"ifbench"})
# Suite-spec prefixes: `ood:` reports any IFEval/IFBench-format file as out-of-domain; `ifbench:` also refuses
# (as row-level errors) ids that are not IFBench types, for IFBench's own test file.
OOD_PREFIX = "ood"
IFBENCH_PREFIX = "ifbench"
SUITE_PREFIXES = (OOD_PREFIX, IFBENCH_PREFIX)


def family_of(type_id: str, default: str | None = None) -> str:
    """The registered type's family ("ifeval" | "ifbench" | "soft").

    A type registered without one (before families existed) counts as "ifeval" when hard and "soft" when soft;
    an unknown id raises LabError unless `default` is given.
    """
    from lab.constraints.registry import get_type
    from lab.errors import LabError

    try:
        ctype = get_type(type_id)
    except LabError:
        if default is not None:
            return default
        raise
    family = getattr(ctype, "family", None)
    if family:
        return str(family)
    return "soft" if ctype.kind == "soft" else "ifeval"


def domain_of_ids(type_ids: Iterable[str]) -> str:
    """A set of constraint ids: all out-of-domain families -> out-of-domain, none -> in-domain, else mixed."""
    families = {family_of(t, default="unknown") for t in type_ids}
    if not families:
        return IN_DOMAIN
    ood = families & OOD_FAMILIES
    if not ood:
        return IN_DOMAIN
    return OUT_OF_DOMAIN if ood == families else MIXED


def split_suite_prefix(spec: str) -> tuple[str | None, str]:
    """('ood' | 'ifbench' | None, the rest) of a suite spec such as 'ifbench:~/IFBench_test.jsonl'."""
    text = (spec or "").strip()
    head, sep, rest = text.partition(":")
    if sep and head.lower() in SUITE_PREFIXES and rest.strip():
        return head.lower(), rest.strip()
    return None, text


def domain_of_suite_name(name: str, per_type_ids: Iterable[str] = ()) -> str:
    """The domain of a stored evaluation's suite when its results do not say (stored before domains existed)."""
    from evals.suites import HELDOUT_IF, HELDOUT_OOD, MATH_SUITES

    prefix, _ = split_suite_prefix(name)
    if name == HELDOUT_OOD or prefix is not None:
        return OUT_OF_DOMAIN
    if name in MATH_SUITES:
        return MATH
    if name == HELDOUT_IF:
        return IN_DOMAIN
    return domain_of_ids(per_type_ids)
