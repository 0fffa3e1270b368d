"""The Train screen's config form, built from the job config dataclasses (every field, with its help text).

Form values are compared with the chosen preset: what differs becomes the pipeline's overrides, and the same
overrides give the equivalent `python -m training pipeline PRESET --set stage.field=value` command.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gradio as gr

from lab.errors import LabError
from training.pipeline import STAGES, load_preset
from training.registry import field_bounds, get_kind

STAGE_TITLES = {
    "dataset": "1 · Curriculum dataset",
    "reward_model": "2 · Soft-constraint reward model",
    "grpo": "3 · GRPO",
}
LINKED = {("reward_model", "dataset"), ("grpo", "dataset"), ("grpo", "reward_model")}  # filled from earlier stages


@dataclass(frozen=True)
class FieldSpec:
    """One config field as a form input."""

    stage: str
    name: str
    widget: str  # bool | int | float | choice | text | list | optional_int | optional_text
    help: str
    default: Any
    choices: tuple[str, ...] = ()
    minimum: float | None = None  # numeric fields: the bounds parse_config enforces, so widget and server agree
    maximum: float | None = None

    @property
    def elem_id(self) -> str:
        return f"train-{self.stage}-{self.name}"


def _widget_kind(annotation: Any) -> tuple[str, tuple[str, ...]]:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return "choice", tuple(str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return ("optional_int", ()) if inner == [int] else ("optional_text", ())
    if origin in (list, tuple):
        return "list", ()
    return {bool: "bool", int: "int", float: "float"}.get(annotation, "text"), ()


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def stage_fields(stage: str) -> list[FieldSpec]:
    config_cls = get_kind(stage).config_cls
    hints = typing.get_type_hints(config_cls)
    specs = []
    for f in dataclasses.fields(config_cls):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        widget, choices = _widget_kind(hints[f.name])
        help_text = str(f.metadata.get("help", ""))
        if (stage, f.name) in LINKED:
            help_text += " Leave empty to use the output of the earlier stage launched with it."
        low, high = field_bounds(f, hints[f.name])
        if "min" in f.metadata and "max" in f.metadata:
            help_text += f" Allowed: {_number(f.metadata['min'])} to {_number(f.metadata['max'])}."
        specs.append(FieldSpec(stage, f.name, widget, help_text, default, choices, low, high))
    return specs


def all_fields(stages: Sequence[str] = STAGES) -> list[FieldSpec]:
    return [spec for stage in stages for spec in stage_fields(stage)]


def display(spec: FieldSpec, value: Any) -> Any:
    """A config value as its widget shows it."""
    if spec.widget == "list":
        return ", ".join(str(v) for v in value or [])
    if spec.widget == "optional_text":
        return "" if value is None else str(value)
    if spec.widget == "text":
        return "" if value is None else str(value)
    return value


# Fields that name stored output: a menu of what storage holds (typing an id, run:<id> or a path still works).
PICKERS = {
    ("reward_model", "dataset"): "dataset",
    ("grpo", "dataset"): "dataset",
    ("grpo", "reward_model"): "rm",
    ("reward_model", "policy"): "model",
    ("reward_model", "init_from"): "model",
    ("grpo", "model"): "model",
}


def picker_choices(what: str) -> list[tuple[str, str]]:
    """(label, value) of stored datasets or reward models, newest first, after the 'from the earlier stage' one;
    for models: the bundled model, then stored policy checkpoints (by id) and folders in $LAB_HOME/models."""

    if what == "model":
        from ui.choices import compare_targets, model_folders

        return [*compare_targets(), *[(folder, folder) for folder in model_folders()]]
    if what == "dataset":
        from storage.datasets import list_datasets

        found = [
            (f"{d.label} · {d.num_rows} rows (dataset {d.id}, run {d.run_id})", str(d.id)) for d in list_datasets()
        ]
        return [("the dataset stage launched with it", ""), *found]
    from storage.checkpoints import list_checkpoints
    from ui.rm_inspector import quality_line

    rms = [c for c in list_checkpoints() if (c.meta or {}).get("type") == "reward_model"]
    found = [(f"RM of run {c.run_id} (checkpoint {c.id}) · {quality_line(c.meta)}"[:120], str(c.id)) for c in rms]
    return [("the reward-model stage launched with it, else none (hard constraints only)", ""), *found]


def make_widget(spec: FieldSpec, shown: Any = None) -> gr.components.Component:
    """The field's widget, showing `shown` (a display() value, e.g. the preset's) or else the field's default."""
    common = {"label": spec.name, "info": spec.help, "elem_id": spec.elem_id}
    value = display(spec, spec.default) if shown is None else shown
    if (spec.stage, spec.name) in PICKERS:
        return gr.Dropdown(choices=[("", "")], value=value, allow_custom_value=True, **common)
    if spec.widget == "bool":
        return gr.Checkbox(value=bool(value), **common)
    if spec.widget in ("int", "optional_int"):
        return gr.Number(value=value, precision=0, minimum=spec.minimum, maximum=spec.maximum, **common)
    if spec.widget == "float":
        return gr.Number(value=value, minimum=spec.minimum, maximum=spec.maximum, **common)
    if spec.widget == "choice":
        return gr.Dropdown(choices=list(spec.choices), value=value, **common)
    if spec.widget == "list":
        common["info"] = f"{spec.help} (comma-separated)"
    return gr.Textbox(value=value, lines=1, **common)


def parse(spec: FieldSpec, raw: Any) -> Any:
    """A widget's value back as the config value (lists split on commas, empty optional fields → None)."""
    if spec.widget == "list":
        return [part.strip() for part in str(raw or "").split(",") if part.strip()]
    if spec.widget in ("optional_int", "optional_text"):
        return None if raw in (None, "") else raw
    if spec.widget == "int":
        if raw is None or raw == "":
            raise LabError("needs a whole number", field=f"{spec.stage}.{spec.name}")
        return int(raw)
    if spec.widget == "float":
        if raw is None or raw == "":
            raise LabError("needs a number", field=f"{spec.stage}.{spec.name}")
        return float(raw)
    if spec.widget == "text":
        return str(raw or "").strip()
    return raw


def preset_values(preset_name: str) -> dict[str, dict[str, Any]]:
    """stage → every field's value: the preset's section over the dataclass defaults."""
    preset = load_preset(preset_name)
    out = {}
    for stage in STAGES:
        section = preset.config(stage)
        out[stage] = {spec.name: section.get(spec.name, spec.default) for spec in stage_fields(stage)}
    return out


def preset_stages(preset_name: str) -> list[str]:
    """The stages ticked when a preset is picked: its default stages (all of its sections unless it says)."""
    return load_preset(preset_name).stages_to_run()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return abs(float(a) - float(b)) <= 1e-12 * max(1.0, abs(float(a)))
        except (TypeError, ValueError):
            return False
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return list(a) == list(b)
    return a == b


def overrides(
    preset_name: str, stages: Sequence[str], specs: Sequence[FieldSpec], raw_values: Sequence[Any]
) -> dict[str, dict[str, Any]]:
    """stage → {field: value} for the chosen stages' fields whose form value differs from the preset's."""
    base = preset_values(preset_name)
    out: dict[str, dict[str, Any]] = {}
    for spec, raw in zip(specs, raw_values, strict=True):
        if spec.stage not in stages:
            continue
        value = parse(spec, raw)
        if not _same(value, base[spec.stage][spec.name]):
            out.setdefault(spec.stage, {})[spec.name] = value
    return out


def _yaml_value(value: Any) -> str:
    """A value as `--set` reads it (YAML): plain where YAML gives the same value back, else JSON-quoted."""
    import yaml

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if value is None:
        return "null"
    if isinstance(value, str):
        try:
            plain_ok = value != "" and yaml.safe_load(value) == value
        except yaml.YAMLError:
            plain_ok = False
        return value if plain_ok else json.dumps(value)
    return json.dumps(value)


def set_items(changes: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Form changes as `STAGE.FIELD=VALUE` items (what `pipeline --set` and an experiment's overrides read)."""
    return [
        f"{stage}.{field_name}={_yaml_value(value)}"
        for stage in STAGES
        for field_name, value in (changes.get(stage) or {}).items()
    ]


def cli_command(
    preset_name: str, stages: Sequence[str], changes: Mapping[str, Mapping[str, Any]], name: str = ""
) -> str:
    """The shell command that queues the same pipeline (what the Launch button does)."""
    parts = [
        "python",
        "-m",
        "training",
        "pipeline",
        preset_name,
        "--stages",
        ",".join(s for s in STAGES if s in stages),
    ]
    for item in set_items(changes):
        parts += ["--set", item]
    if name.strip():
        parts += ["--name", name.strip()]
    return shlex.join(parts)
