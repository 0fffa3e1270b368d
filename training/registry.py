"""Job kinds: a kind is a documented config dataclass plus a run(config, ctx) function.

Configs are built from plain dicts (YAML, CLI --set, UI forms) by `parse_config`, which refuses
unknown fields, wrong types, non-finite floats and numbers outside a field's bounds (metadata "min"/"max",
inclusive; any int within +-MAX_INT) with a LabError naming the field. A config may define
`validate(self) -> None` for checks that need more than types (files that must exist, steps > 0).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from lab.errors import LabError

MAX_INT = 2**53 - 1  # SQLite stores int64, and JSON / JavaScript numbers are exact up to 2**53


class JobContext(Protocol):
    """What a running job may do. The worker gives a storage-backed implementation."""

    job_id: int
    run_id: int
    work_dir: Path  # the run's folder under $LAB_HOME/runs, shared by all attempts of the run
    attempt: int  # 1 for the first attempt, 2.. for resumes

    def progress(self, current: int, total: int, message: str = "") -> None: ...

    def log_metrics(self, step: int, values: Mapping[str, float]) -> None: ...

    def log_samples(self, step: int, samples: list[Mapping[str, Any]]) -> None:
        """Each sample: {"prompt", "response", "breakdown" (dict), optional "reward", "meta"}."""

    def register_checkpoint(self, step: int, path: Path, meta: Mapping[str, Any] | None = None) -> int: ...

    def register_dataset(self, name: str, path: Path, meta: Mapping[str, Any] | None = None) -> int: ...

    def record_evaluation(
        self, model: str, suite: str, results: Mapping[str, Any], checkpoint_id: int | None = None
    ) -> int:
        """Store one suite's results on one model for this run (after the samples logged so far); returns its id."""

    def last_checkpoint(self) -> tuple[int, Path] | None:
        """(step, path) of the run's newest checkpoint from any earlier attempt, for resuming."""

    def last_metric_step(self) -> int | None:
        """Newest step with stored metrics in this run, so a resume continues the curve without repeats."""

    def resume_from(self, step: int) -> None:
        """Training goes on after `step` (0 = from the start): drop stored metric/sample rows of later steps."""

    def doing(self, what: str) -> AbstractContextManager[None]:
        """`with ctx.doing("saving checkpoint-10"):` names the activity in the job's error if it fails there."""

    def resume_state(self) -> Mapping[str, Any]:
        """State saved with `save_state` by an earlier attempt of this run (empty for a first attempt)."""

    def save_state(self, state: Mapping[str, Any]) -> None: ...

    def should_stop(self) -> bool:
        """True once a cancel was asked for: save what you have and return."""


RunFn = Callable[[Any, JobContext], Mapping[str, Any] | None]


@dataclass(frozen=True)
class JobKind:
    name: str
    config_cls: type
    run: RunFn
    help: str = ""


_KINDS: dict[str, JobKind] = {}


def register_kind(kind: JobKind) -> JobKind:
    _KINDS[kind.name] = kind
    return kind


def _load_kinds() -> None:
    # Importing a kind's module registers it; add new kinds here.
    import importlib

    for module in (
        "training.generate_job",
        "training.dataset_job",
        "training.reward_model_job",
        "training.grpo_job",
        "training.evaluate_job",
        "training.experiment_job",
    ):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def get_kind(name: str) -> JobKind:
    _load_kinds()
    if name not in _KINDS:
        allowed = ", ".join(sorted(_KINDS)) or "none"
        raise LabError(f"unknown job kind {name!r}; allowed: {allowed}", field="kind")
    return _KINDS[name]


def all_kinds() -> list[JobKind]:
    _load_kinds()
    return list(_KINDS.values())


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except LabError as exc:
                errors.append(str(exc))
        raise LabError(f"{where}: {value!r} does not fit {annotation}", field=where)
    if origin is typing.Literal:
        if value not in args:
            raise LabError(f"{where}: must be one of {', '.join(map(repr, args))}, got {value!r}", field=where)
        return value
    if origin in (list, tuple):
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise LabError(f"{where}: must be a list, got {value!r}", field=where)
        inner = args[0] if args else Any
        items = [_coerce(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            raise LabError(f"{where}: must be a mapping, got {value!r}", field=where)
        return value
    if annotation is Any:
        return value
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise LabError(f"{where}: must be true or false, got {value!r}", field=where)
    if annotation is int:
        if isinstance(value, bool):
            raise LabError(f"{where}: must be an integer, got {value!r}", field=where)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise LabError(f"{where}: must be an integer, got {value!r}", field=where)
    if annotation is float:
        if isinstance(value, bool):
            raise LabError(f"{where}: must be a number, got {value!r}", field=where)
        number = None
        if isinstance(value, int | float):
            try:
                number = float(value)
            except OverflowError:  # an int too large for a float
                raise LabError(f"{where}: must be a finite number, got {_show(value)}", field=where) from None
        elif isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                pass
        if number is None:
            raise LabError(f"{where}: must be a number, got {value!r}", field=where)
        if not math.isfinite(number):
            raise LabError(f"{where}: must be a finite number, got {_show(value)}", field=where)
        return number
    if annotation is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise LabError(f"{where}: must be a string, got {value!r}", field=where)
    return value


def numeric_type(annotation: Any) -> type | None:
    """int or float for a field annotated int, float, int | None or float | None; else None."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = inner[0] if len(inner) == 1 else None
    return annotation if annotation in (int, float) else None


def field_bounds(f: dataclasses.Field, annotation: Any) -> tuple[float | None, float | None]:
    """(min, max), inclusive, of a numeric config field: its metadata's "min"/"max"; ints default to +-MAX_INT."""
    low, high = f.metadata.get("min"), f.metadata.get("max")
    if numeric_type(annotation) is int:
        low = -MAX_INT if low is None else max(low, -MAX_INT)
        high = MAX_INT if high is None else min(high, MAX_INT)
    return low, high


def _show(number: Any) -> str:
    """A number for a message: grouped digits, or short scientific notation when huge (never 4,000 digits)."""
    if isinstance(number, int) and abs(number) < 10**16:
        return f"{number:,}"
    try:
        return f"{float(number):g}"
    except (OverflowError, TypeError, ValueError):
        return f"an integer of {number.bit_length()} bits" if isinstance(number, int) else repr(number)[:40]


def config_bounds(config_cls: type, name: str) -> tuple[float | None, float | None]:
    """`field_bounds` of one field of a config dataclass, by name (for UI widgets outside the config form)."""
    f = next(f for f in dataclasses.fields(config_cls) if f.name == name)
    return field_bounds(f, typing.get_type_hints(config_cls)[name])


def check_bounds(name: str, value: Any, low: float | None, high: float | None) -> None:
    """Refuse a number outside [low, high] with a LabError naming the field and the allowed range."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    if (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            allowed = f">= {_show(low)} and <= {_show(high)}"
        else:
            allowed = f">= {_show(low)}" if low is not None else f"<= {_show(high)}"
        raise LabError(f"must be {allowed}, got {_show(value)}", field=name)


def parse_config(config_cls: type, values: Mapping[str, Any] | None) -> Any:
    """Build config_cls from a dict; unknown fields, wrong types and failed validate() raise LabError."""
    values = dict(values or {})
    hints = typing.get_type_hints(config_cls)
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise LabError(
            f"unknown field {unknown[0]!r}; allowed fields: {', '.join(fields)}",
            field=unknown[0],
        )
    kwargs = {name: _coerce(value, hints[name], name) for name, value in values.items()}
    for name, value in kwargs.items():
        check_bounds(name, value, *field_bounds(fields[name], hints[name]))
    missing = [
        n
        for n, f in fields.items()
        if n not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise LabError(f"{missing[0]}: is required", field=missing[0])
    config = config_cls(**kwargs)
    validate = getattr(config, "validate", None)
    if callable(validate):
        validate()
    return config


def config_to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def config_help(config_cls: type) -> dict[str, str]:
    """Field name -> help text (from field(metadata={"help": ...}))."""
    return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(config_cls)}


def same_config(config_cls: type, a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two stored configs of a kind ask for the same job: equal field by field, a field missing from one
    (added to the kind after it was stored) standing for its default. Fields the kind no longer has are ignored, and
    so are fields marked `speed_only` in their metadata (how fast, not what: e.g. evaluate's batch_size)."""
    defaults = {}
    compared = set()
    for f in dataclasses.fields(config_cls):
        if not f.metadata.get("speed_only"):
            compared.add(f.name)
        if f.default is not dataclasses.MISSING:
            defaults[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            defaults[f.name] = f.default_factory()
    missing = object()
    for name in compared:
        left, right = a.get(name, defaults.get(name, missing)), b.get(name, defaults.get(name, missing))
        if left is missing or right is missing or _normal(left) != _normal(right):
            return False
    return True


def _normal(value: Any) -> Any:
    """Tuples and lists compare equal (JSON stores both as lists)."""
    if isinstance(value, list | tuple):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    return value
