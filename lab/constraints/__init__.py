"""Constraint types: hard (checked by code, IFEval-compatible) and soft (scored by a reward model)."""

from lab.constraints.base import ConstraintType, Param, Verdict
from lab.constraints.registry import all_types, get_type, register

__all__ = ["ConstraintType", "Param", "Verdict", "all_types", "get_type", "register"]
