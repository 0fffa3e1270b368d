"""Presets (training/presets/*.yaml: one section per job kind) and the dataset -> reward_model -> grpo pipeline.

Later stages point at earlier ones as "run:<id>" and wait for them, so all stages can be queued at once.
`python -m training pipeline cpu-smoke [--stages dataset,grpo] [--set grpo.steps=3] [--foreground]`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.errors import LabError

PRESETS_DIR = Path(__file__).resolve().parent / "presets"
STAGES = ("dataset", "reward_model", "grpo")


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    stages: Mapping[str, Mapping[str, Any]]  # kind -> config values

    def config(self, kind: str) -> dict[str, Any]:
        return dict(self.stages.get(kind) or {})


def list_presets() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def load_preset(name_or_path: str) -> Preset:
    """A shipped preset by name (see list_presets) or a YAML file with the same sections."""
    import yaml

    path = Path(name_or_path).expanduser()
    if not path.is_file():
        path = PRESETS_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise LabError(
            f"unknown preset {name_or_path!r}; allowed: {', '.join(list_presets())} or a YAML file", "preset"
        )
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise LabError(f"{path.name} must be a mapping with sections {', '.join(STAGES)}", field="preset")
    unknown = sorted(set(data) - {*STAGES, "description"})
    if unknown:
        raise LabError(f"{path.name}: unknown section {unknown[0]!r}; allowed: {', '.join(STAGES)}", field="preset")
    stages = {k: dict(data.get(k) or {}) for k in STAGES if k in data}
    return Preset(path.stem, str(data.get("description", "")).strip(), stages)


def stage_configs(
    preset: Preset, stages: Sequence[str] = STAGES, overrides: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, dict[str, Any]]:
    """The config values of each chosen stage: preset section + overrides (kind -> {field: value})."""
    bad = [s for s in stages if s not in STAGES]
    if bad:
        raise LabError(f"unknown stage {bad[0]!r}; allowed: {', '.join(STAGES)}", field="stages")
    overrides = overrides or {}
    return {s: {**preset.config(s), **dict(overrides.get(s) or {})} for s in STAGES if s in stages}


def _link(kind: str, values: dict[str, Any], run_ids: Mapping[str, int]) -> dict[str, Any]:
    values = dict(values)
    if kind in ("reward_model", "grpo") and not values.get("dataset") and "dataset" in run_ids:
        values["dataset"] = f"run:{run_ids['dataset']}"
    if kind == "grpo" and not values.get("reward_model") and "reward_model" in run_ids:
        values["reward_model"] = f"run:{run_ids['reward_model']}"
    return values


def submit_pipeline(
    preset: Preset | str,
    stages: Sequence[str] = STAGES,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    foreground: bool = False,
    name: str | None = None,
) -> list[Any]:
    """Queue (or, with foreground=True, run here one after another) the chosen stages; returns their jobs.

    A stage whose config is refused cancels the stages already queued by this call, then raises.
    """
    from training.jobs import cancel_job, run_in_foreground, submit_job

    preset = load_preset(preset) if isinstance(preset, str) else preset
    configs = stage_configs(preset, stages, overrides)
    jobs = []
    run_ids: dict[str, int] = {}
    for kind, values in configs.items():
        run_name = f"{name or preset.name}: {kind}"
        linked = _link(kind, values, run_ids)
        if foreground:
            job = run_in_foreground(kind, linked, name=run_name)
        else:
            try:
                job = submit_job(kind, linked, name=run_name)
            except LabError as error:
                for queued in jobs:
                    cancel_job(queued.id)
                raise LabError(f"stage {kind}: {error}", field=error.field) from None
        if foreground and job.status != "succeeded":
            raise LabError(f"stage {kind} ended {job.status}: {job.error_message or ''}", field="stages")
        run_ids[kind] = job.run_id
        jobs.append(job)
    return jobs


def _parse_sets(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    import yaml

    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        kind, dot, fieldname = key.strip().partition(".")
        if not sep or not dot or kind not in STAGES or not fieldname:
            raise LabError(f"--set needs STAGE.FIELD=VALUE with STAGE in {', '.join(STAGES)}, got {item!r}", "set")
        out.setdefault(kind, {})[fieldname] = yaml.safe_load(raw) if raw.strip() else None
    return out


def main_pipeline(argv: Sequence[str] | None = None) -> int:
    """CLI: `python -m training pipeline PRESET [--stages ...] [--set stage.field=value ...] [--foreground]`."""
    parser = argparse.ArgumentParser(prog="python -m training pipeline", description=__doc__)
    parser.add_argument("preset", help=f"a shipped preset ({', '.join(list_presets())}) or a preset YAML file")
    parser.add_argument("--stages", default=",".join(STAGES), help="comma-separated subset of " + ",".join(STAGES))
    parser.add_argument("--set", "-s", action="append", default=[], metavar="STAGE.FIELD=VALUE")
    parser.add_argument("--foreground", action="store_true", help="run the stages here, one after another")
    parser.add_argument("--name", help="run name prefix (default: the preset's name)")
    args = parser.parse_args(argv)
    try:
        stages = [s.strip() for s in args.stages.split(",") if s.strip()]
        jobs = submit_pipeline(args.preset, stages, _parse_sets(args.set), args.foreground, args.name)
    except LabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for job in jobs:
        print(f"{job.kind}: job {job.id} (run {job.run_id}) {job.status}")
    return 0
