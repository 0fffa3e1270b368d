"""`--set` overrides, the one parser of `python -m training submit|run KIND --set FIELD=VALUE` (training/cli.py)
and `python -m training pipeline PRESET --set STAGE.FIELD=VALUE` (training/pipeline.py).

A value is read as YAML (`steps=3` is 3, `lora=false` is False, `include_types=[a, b]` a list, `name=` None);
text that is not YAML (`prompt=[x`) is kept as it is. A malformed item is one LabError with field "set".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lab.errors import LabError

SET_FIELD = "set"  # the field a malformed --set item is refused under ("error: set: --set needs ...")


def parse_value(raw: str) -> Any:
    """The value of one `--set KEY=VALUE`: YAML, None when empty, the text itself when it is not YAML."""
    import yaml

    if not raw.strip():
        return None
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def parse_set(item: str, stages: Sequence[str] | None = None) -> tuple[str | None, str, Any]:
    """One `--set` item -> (stage, field, value). With `stages`, the key must be STAGE.FIELD with STAGE among
    them; without, the key is a plain FIELD and stage is None."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if stages is None:
        if not sep or not key:
            raise LabError(f"--set needs key=value, got {item!r}", field=SET_FIELD)
        return None, key, parse_value(raw)
    stage, dot, name = key.partition(".")
    stage, name = stage.strip(), name.strip()
    if not sep or not dot or stage not in stages or not name:
        raise LabError(f"--set needs STAGE.FIELD=VALUE with STAGE in {', '.join(stages)}, got {item!r}", SET_FIELD)
    return stage, name, parse_value(raw)


def parse_sets(items: Sequence[str]) -> dict[str, Any]:
    """`--set FIELD=VALUE` items -> {field: value} (a later item wins)."""
    return {name: value for _, name, value in (parse_set(item) for item in items)}


def parse_stage_sets(items: Sequence[str], stages: Sequence[str]) -> dict[str, dict[str, Any]]:
    """`--set STAGE.FIELD=VALUE` items -> {stage: {field: value}} (a later item wins)."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        stage, name, value = parse_set(item, stages)
        out.setdefault(str(stage), {})[name] = value
    return out
