"""An experiment's variants: the paper's ablations as named changes to a preset, or a user's own.

A variant is a built-in name (VARIANTS) or `NAME: STAGE.FIELD=VALUE, ...` where an item `-reward_model` (or
`-STAGE`) leaves a stage out, e.g. `long: grpo.max_completion_length=128` or `rm-free: -reward_model`. Each
variant becomes the preset's dataset -> reward_model -> grpo pipeline with its changes, checked like a pipeline
(training/pipeline.py) before anything is stored.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lab.errors import LabError
from training.overrides import parse_stage_sets
from training.pipeline import STAGES, Preset, load_preset, plan_pipeline

RESERVED = "base"  # the ablation table's row of the untrained model
REFERENCE = "full"  # the variant the ablation table's "Δ vs full" columns compare against, when present


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    sets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # stage -> {field: value}
    drop: tuple[str, ...] = ()  # stages left out
    # The reward model is trained on the base recipe's dataset, not this variant's (a dataset without the easier
    # levels has no (o_k, o_{k-1}) pairs): only GRPO's data changes, as in the paper's curriculum ablation.
    reward_model_on_base_data: bool = False

    def stages(self, preset: Preset) -> list[str]:
        return [s for s in STAGES if s in preset.stages and s not in self.drop]


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant(REFERENCE, "the preset as it is: hard + soft reward, curriculum (the paper's recipe)"),
        Variant("hard-only", "no reward model: hard constraints by code only", drop=("reward_model",)),
        Variant("binary-soft", "soft reward 0/1 (RM verdict), not P(adheres)", {"grpo": {"soft_reward": "binary"}}),
        Variant(
            "no-curriculum",
            "GRPO on each group's hardest level only (same reward model)",
            {"dataset": {"curriculum": False}},
            reward_model_on_base_data=True,
        ),
        Variant("kl-0.01", "KL penalty beta = 0.01 against the initial policy", {"grpo": {"beta": 0.01}}),
        Variant("rm-only", "no rule rewards: the RM's soft scores (and math) only", {"grpo": {"rule_rewards": False}}),
    )
}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,39}$")


def parse_variant(text: str, where: str = "variants") -> Variant:
    """A built-in name, or `NAME: STAGE.FIELD=VALUE, ..., -STAGE` (see the module doc); LabError naming `where`."""
    text = str(text).strip()
    if text in VARIANTS:
        return VARIANTS[text]
    name, colon, body = text.partition(":")
    name = name.strip()
    if not colon:
        raise LabError(
            f"unknown variant {text!r}; allowed: {', '.join(VARIANTS)} or 'NAME: STAGE.FIELD=VALUE, ...'", where
        )
    if not _NAME.match(name) or name == RESERVED:
        raise LabError(f"a variant name is 1-40 letters, digits or _.+- (not {RESERVED!r}); got {name!r}", where)
    items = [item.strip() for item in _split_items(body) if item.strip()]
    drop = tuple(item[1:].strip() for item in items if item.startswith("-"))
    bad = [s for s in drop if s not in STAGES]
    if bad:
        raise LabError(f"variant {name}: cannot leave out {bad[0]!r}; stages: {', '.join(STAGES)}", where)
    try:
        sets = parse_stage_sets([item for item in items if not item.startswith("-")], STAGES)
    except LabError as error:
        raise LabError(f"variant {name}: {error}", where) from None
    return Variant(name, text.partition(":")[2].strip(), sets, drop)


def _split_items(body: str) -> list[str]:
    """Split on commas outside brackets, so `dataset.exclude_types=[a, b]` stays one item."""
    items, depth, current = [], 0, ""
    for char in body:
        depth += char in "[{"
        depth -= char in "]}"
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    return [*items, current]


@dataclass(frozen=True)
class PlannedVariant:
    variant: Variant
    stages: list[str]
    overrides: dict[str, dict[str, Any]]  # the experiment's base changes + the variant's, per stage
    reward_model_overrides: dict[str, dict[str, Any]] | None = None  # set: the RM is trained on these (base) data

    def base_model(self, preset: Preset) -> str:
        """The model GRPO starts from (the ablation table's base row)."""
        return str(self.overrides["grpo"].get("model") or preset.config("grpo").get("model") or "bundled")

    @property
    def grpo_stages(self) -> list[str]:
        """The stages that feed GRPO directly (without the RM when it is trained on other data)."""
        if self.reward_model_overrides is None:
            return self.stages
        return [s for s in self.stages if s != "reward_model"]


LINKED = {"reward_model": ("dataset",), "grpo": ("dataset", "reward_model")}  # stage -> fields an earlier one fills


def plan_experiment(
    preset: str, variants: Sequence[str], base_sets: Sequence[str] = (), name: str = "experiment"
) -> list[PlannedVariant]:
    """Parse and check every variant against the preset (as a pipeline would be checked); stores nothing."""
    if not variants:
        raise LabError(f"name at least one variant; built in: {', '.join(VARIANTS)}", field="variants")
    loaded = load_preset(preset)
    try:
        base = parse_stage_sets(list(base_sets), STAGES)
    except LabError as error:
        raise LabError(str(error), field="overrides") from None
    _refuse_links(base, loaded.stages, "overrides")
    for stage, values in base.items():
        if stage not in loaded.stages:
            raise LabError(f"{stage}.{next(iter(values))}: the preset has no {stage} section", "overrides")
    planned: list[PlannedVariant] = []
    for i, text in enumerate(variants):
        where = f"variants[{i}]"
        variant = parse_variant(text, where)
        if any(p.variant.name == variant.name for p in planned):
            raise LabError(f"variant {variant.name!r} is named twice", field=where)
        stages = variant.stages(loaded)
        if "grpo" not in stages:
            raise LabError(f"variant {variant.name}: leaves out grpo, so there is nothing to evaluate", where)
        _refuse_links(variant.sets, stages, where)
        overrides = {s: {**base.get(s, {}), **dict(variant.sets.get(s) or {})} for s in STAGES}
        if "reward_model" not in stages and "reward_model" not in (variant.sets.get("grpo") or {}):
            overrides["grpo"]["reward_model"] = ""  # hard-only means no reward model, whatever the preset names
        on_base = variant.reward_model_on_base_data and "reward_model" in stages
        rm_overrides = {s: dict(base.get(s, {})) for s in STAGES} if on_base else None
        item = PlannedVariant(variant, stages, overrides, rm_overrides)
        try:
            plan_pipeline(loaded, item.grpo_stages, overrides, f"{name} / {variant.name}")
            if rm_overrides is not None:
                plan_pipeline(loaded, ["dataset", "reward_model"], rm_overrides, f"{name} / {variant.name}")
        except LabError as error:
            raise LabError(f"variant {variant.name}: {error}", field=where) from None
        if planned and item.base_model(loaded) != planned[0].base_model(loaded):
            raise LabError(
                f"variant {variant.name} trains {item.base_model(loaded)}, the first {planned[0].base_model(loaded)}: "
                "one experiment compares variants of one base model (its base row)",
                field=where,
            )
        planned.append(item)
    return planned


def _refuse_links(sets: Mapping[str, Mapping[str, Any]], stages: Any, where: str) -> None:
    """Refuse a change of a field an earlier stage of the experiment fills (GRPO's dataset, its reward model)."""
    for stage, fields in LINKED.items():
        for name in fields:
            if name in (sets.get(stage) or {}) and name in stages:
                raise LabError(
                    f"{stage}.{name} is the {name} stage's output in an experiment; change that stage's fields "
                    f"instead (or leave it out with -{name})",
                    field=where,
                )


def stage_key(kind: str, config: Mapping[str, Any]) -> str:
    """Identity of a stage within an experiment: variants whose stage configs are equal (the links to earlier
    stages included) share one run."""
    text = json.dumps({"kind": kind, "config": config}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
