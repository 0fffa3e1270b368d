"""The one registry of constraint types, hard and soft, keyed by id."""

from __future__ import annotations

from lab.constraints.base import FAMILIES, ConstraintType, Family, Kind
from lab.errors import LabError

_TYPES: dict[str, ConstraintType] = {}


def register(constraint_type: ConstraintType) -> ConstraintType:
    if constraint_type.id in _TYPES:
        raise ValueError(f"constraint type {constraint_type.id!r} registered twice")
    _TYPES[constraint_type.id] = constraint_type
    return constraint_type


_loaded = False


def _load_all() -> None:
    global _loaded
    if _loaded:  # checked per call on the hot path of every check
        return
    # Importing the modules registers their types.
    import lab.constraints.hard  # noqa: F401
    import lab.constraints.soft  # noqa: F401

    _loaded = True


def get_type(type_id: str) -> ConstraintType:
    _load_all()
    try:
        return _TYPES[type_id]
    except KeyError:
        raise LabError(
            f"unknown constraint type {type_id!r}; see lab.constraints.all_types() for the allowed ids",
            field="instruction_id",
        ) from None


def all_types(kind: Kind | None = None, family: Family | None = None) -> list[ConstraintType]:
    """Registered types, optionally only one kind ("hard"/"soft") and/or one family ("ifeval"/"ifbench"/"soft")."""
    _load_all()
    if family is not None and family not in FAMILIES:
        raise LabError(f"must be one of {', '.join(FAMILIES)}, got {family!r}", field="family")
    return [t for t in _TYPES.values() if (kind is None or t.kind == kind) and (family is None or t.family == family)]
