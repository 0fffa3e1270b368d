"""Presets (training/presets/*.yaml: one section per job kind) and the dataset -> reward_model -> grpo pipeline.

Later stages point at earlier ones as "run:<id>" and wait for them, so all stages can be queued at once. Every
stage is checked before anything is stored, then all are queued in one transaction (or none).
`python -m training pipeline cpu-smoke [--stages dataset,grpo] [--set grpo.steps=3] [--foreground] [--force]`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.errors import LabError
from storage.models import JobStatus
from training.overrides import parse_stage_sets
from training.refs import RUN_PREFIX, format_run_ref

PRESETS_DIR = Path(__file__).resolve().parent / "presets"
STAGES = ("dataset", "reward_model", "grpo")


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    stages: Mapping[str, Mapping[str, Any]]  # kind -> config values
    default_stages: tuple[str, ...] = ()  # what runs when no stages are chosen; () = every section
    default_stages_why: str = ""  # why the default leaves a section out (shown by the CLI and the Train tab)

    def config(self, kind: str) -> dict[str, Any]:
        return dict(self.stages.get(kind) or {})

    def stages_to_run(self) -> list[str]:
        """The stages a pipeline runs when none are named: `default_stages`, else every section, in order."""
        chosen = self.default_stages or tuple(self.stages)
        return [s for s in STAGES if s in chosen]


def list_presets() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def load_preset(name_or_path: str) -> Preset:
    """A shipped preset by name (see list_presets) or a YAML file with the same sections."""
    from training.yaml_files import read_yaml

    path = Path(name_or_path).expanduser()
    if not path.is_file():
        path = PRESETS_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise LabError(
            f"unknown preset {name_or_path!r}; allowed: {', '.join(list_presets())} or a YAML file", "preset"
        )
    data = read_yaml(path, "preset") or {}
    if not isinstance(data, dict):
        raise LabError(f"{path.name} must be a mapping with sections {', '.join(STAGES)}", field="preset")
    unknown = sorted(set(data) - {*STAGES, *PRESET_KEYS})
    if unknown:
        raise LabError(f"{path.name}: unknown section {unknown[0]!r}; allowed: {', '.join(STAGES)}", field="preset")
    stages = {k: dict(data.get(k) or {}) for k in STAGES if k in data}
    default = data.get("default_stages") or []
    if not isinstance(default, list) or any(not isinstance(s, str) or s not in stages for s in default):
        raise LabError(f"{path.name}: default_stages must list sections of this preset ({', '.join(stages)})", "preset")
    why = str(data.get("default_stages_why") or "").strip()
    return Preset(path.stem, str(data.get("description", "")).strip(), stages, tuple(default), why)


PRESET_KEYS = ("description", "default_stages", "default_stages_why")  # a preset's keys besides its stage sections


def stage_configs(
    preset: Preset, stages: Sequence[str] = STAGES, overrides: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, dict[str, Any]]:
    """The config values of each chosen stage: preset section + overrides (kind -> {field: value})."""
    bad = [s for s in stages if s not in STAGES]
    if bad:
        raise LabError(f"unknown stage {bad[0]!r}; allowed: {', '.join(STAGES)}", field="stages")
    overrides = overrides or {}
    return {s: {**preset.config(s), **dict(overrides.get(s) or {})} for s in STAGES if s in stages}


def _placeholder(kind: str) -> str:
    """How a later stage names an earlier stage's run while nothing is stored yet."""
    return f"{RUN_PREFIX}<{kind} stage>"


@dataclass(frozen=True)
class PlannedStage:
    kind: str
    config: dict[str, Any]  # checked, defaults filled in; linked fields hold _placeholder(earlier kind)
    name: str
    links: dict[str, str]  # config field -> the earlier stage whose run it names


def _links(kind: str, values: Mapping[str, Any], earlier: Sequence[str]) -> dict[str, str]:
    links = {}
    if kind in ("reward_model", "grpo") and not values.get("dataset") and "dataset" in earlier:
        links["dataset"] = "dataset"
    if kind == "grpo" and not values.get("reward_model") and "reward_model" in earlier:
        links["reward_model"] = "reward_model"
    return links


def plan_pipeline(
    preset: Preset | str,
    stages: Sequence[str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    name: str | None = None,
) -> list[PlannedStage]:
    """Check every chosen stage's config and reference, earlier stages standing in as placeholders; a refusal
    is a LabError "stage KIND: ..." naming the field. Stores nothing."""
    from training import refs
    from training.jobs import check_config

    preset = load_preset(preset) if isinstance(preset, str) else preset
    stages = preset.stages_to_run() if stages is None else stages
    plan: list[PlannedStage] = []
    for kind, values in stage_configs(preset, stages, overrides).items():
        links = _links(kind, values, [stage.kind for stage in plan])
        linked = {**values, **{field: _placeholder(stage) for field, stage in links.items()}}
        try:
            with refs.planned_runs({_placeholder(stage.kind): stage.kind for stage in plan}):
                _, config = check_config(kind, linked)
        except LabError as error:  # "grpo.steps: must be >= 1": the field as --set names it
            raise LabError(
                f"{kind}.{error}" if error.field else f"stage {kind}: {error}",
                field=error.field and f"{kind}.{error.field}",
            ) from None
        plan.append(PlannedStage(kind, config, f"{name or preset.name}: {kind}"[:200], links))
    return plan


def submit_pipeline(
    preset: Preset | str,
    stages: Sequence[str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    foreground: bool = False,
    name: str | None = None,
    force: bool = False,
) -> list[Any]:
    """Queue (or, with foreground=True, run here one after another) the chosen stages; returns their jobs.

    All stages are checked first (plan_pipeline), then queued in one transaction that also enforces the queue
    cap (LAB_MAX_QUEUED, unless force): a refusal leaves no run and no job behind. Foreground stages do not
    queue; each is created when the one before it has succeeded.
    """
    from storage import jobs as job_store
    from training.jobs import queue_cap, run_in_foreground

    plan = plan_pipeline(preset, stages, overrides, name)
    if not foreground:
        index = {stage.kind: i for i, stage in enumerate(plan)}
        new = [
            job_store.NewJob(s.kind, s.config, s.name, {field: index[k] for field, k in s.links.items()}) for s in plan
        ]
        return job_store.create_jobs(new, max_queued=queue_cap(force))
    jobs = []
    run_ids: dict[str, int] = {}
    for stage in plan:
        config = {**stage.config, **{field: format_run_ref(run_ids[k]) for field, k in stage.links.items()}}
        job = run_in_foreground(stage.kind, config, name=stage.name)
        if job.status != JobStatus.SUCCEEDED:
            raise LabError(f"stage {stage.kind} ended {job.status}: {job.error_message or ''}", field="stages")
        run_ids[stage.kind] = job.run_id
        jobs.append(job)
    return jobs


STAGES_HELP = """leaving out a stage:
  no dataset       reward_model and grpo need --set STAGE.dataset=ID (a stored dataset id, run:<id> of a
                   dataset run, or a .jsonl file)
  no reward_model  grpo's reward is hard constraints only (soft-only rows are dropped), unless you point
                   --set grpo.reward_model=ID at a stored reward model (checkpoint id or run:<id>)
  no grpo          stops after the reward model (or the dataset): nothing is trained
examples:
  python -m training pipeline cpu-smoke --stages dataset,grpo          # hard-only reward
  python -m training pipeline cpu-smoke --stages grpo --set grpo.dataset=run:7 --set grpo.reward_model=run:8
"""


def default_stages_note(preset: Preset) -> str:
    """What a run with the preset's default stages leaves out, and why ('' when it runs every section)."""
    left_out = [s for s in preset.stages if s not in preset.stages_to_run()]
    if not left_out:
        return ""
    return (
        f"{preset.name} runs {', '.join(preset.stages_to_run())} by default, without {', '.join(left_out)}: "
        f"{preset.default_stages_why or 'see the preset'} (--stages {','.join(preset.stages)} runs them all)"
    )


def _parse_sets(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """`--set STAGE.FIELD=VALUE` items -> overrides (training.overrides, the parser `training submit` uses too)."""
    return parse_stage_sets(items, STAGES)


def main_pipeline(argv: Sequence[str] | None = None) -> int:
    """CLI: `python -m training pipeline PRESET [--stages ...] [--set stage.field=value ...] [--foreground]`."""
    parser = argparse.ArgumentParser(
        prog="python -m training pipeline",
        description=__doc__,
        epilog=STAGES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("preset", help=f"a shipped preset ({', '.join(list_presets())}) or a preset YAML file")
    parser.add_argument(
        "--stages",
        default=None,
        help="comma-separated subset of " + ",".join(STAGES) + " (default: the preset's default_stages, else all; "
        "what leaving one out means: see below)",
    )
    parser.add_argument("--set", "-s", action="append", default=[], metavar="STAGE.FIELD=VALUE")
    parser.add_argument("--foreground", action="store_true", help="run the stages here, one after another")
    parser.add_argument("--name", help="run name prefix (default: the preset's name)")
    parser.add_argument("--force", action="store_true", help="queue even past the cap (LAB_MAX_QUEUED)")
    args = parser.parse_args(argv)
    try:
        stages = None if args.stages is None else [s.strip() for s in args.stages.split(",") if s.strip()]
        if stages is None:
            note = default_stages_note(load_preset(args.preset))
            if note:
                print(f"note: {note}", file=sys.stderr)
        jobs = submit_pipeline(args.preset, stages, _parse_sets(args.set), args.foreground, args.name, args.force)
    except LabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from training.rm_quality import launch_warnings

    for job in jobs:
        print(f"{job.kind}: job {job.id} (run {job.run_id}) {job.status}")
        for warning in [] if args.foreground else launch_warnings(job.kind, job.config):
            print(f"warning: {warning}", file=sys.stderr)
    return 0
