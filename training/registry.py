"""Job kinds: a kind is a documented config dataclass plus a run(config, ctx) function.

Configs are built from plain dicts (YAML, CLI --set, UI forms) by `parse_config`, which refuses
unknown fields and wrong types with a LabError naming the field. A config may define
`validate(self) -> None` for checks that need more than types (files that must exist, steps > 0).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from lab.errors import LabError


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

    def last_checkpoint(self) -> tuple[int, Path] | None:
        """(step, path) of the run's newest checkpoint from any earlier attempt, for resuming."""

    def last_metric_step(self) -> int | None:
        """Newest step with stored metrics in this run, so a resume continues the curve without repeats."""

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
        "training.generate",
        "training.dataset",
        "training.reward_model",
        "training.grpo",
        "training.evaluate",
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
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise LabError(f"{where}: must be a number, got {value!r}", field=where)
    if annotation is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise LabError(f"{where}: must be a string, got {value!r}", field=where)
    return value


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
