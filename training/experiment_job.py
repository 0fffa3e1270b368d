"""The `experiment` job: a preset's pipeline under several variants (the paper's ablations), each trained and
evaluated on the same held-out suites and seeds, with the ablation table built from what storage holds.

Every stage is a job of its own kind run here, one after another (its run shows in the Runs tab like any other).
Variants share a stage whose config is equal (`full` and `hard-only` share the dataset; `full` and `binary-soft`
share dataset and reward model), also with earlier experiments whose stage runs still exist, so nothing is trained
twice: adding a variant to an experiment trains only that variant. The base model is evaluated once (the evaluate
job's cache makes the repeat free). A resumed experiment skips every stage and evaluation that finished; a stage
that was stopped part-way resumes from its own last checkpoint. A cancel reaches the stage that is running.
`python -m training run experiment --set preset=cpu-30min --set 'variants=[full, hard-only]'`
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lab.errors import LabError
from lab.random_seed import MAX_SEED
from storage.models import JobStatus
from training.experiment_plan import REFERENCE, VARIANTS, PlannedVariant, plan_experiment, stage_key
from training.refs import format_run_ref
from training.registry import JobContext, JobKind, register_kind

DEFAULT_SUITES = ("heldout-if", "heldout-ood", "arith-probe")


@dataclass
class ExperimentConfig:
    """Train and evaluate a preset under several variants (ablations) and build the ablation table."""

    preset: str = field(
        default="cpu-30min", metadata={"help": "The base recipe: a shipped preset name or a preset YAML file."}
    )
    variants: list[str] = field(
        default_factory=lambda: [REFERENCE, "hard-only"],
        metadata={
            "help": f"Variants, in table order: built in {', '.join(VARIANTS)}, or 'NAME: STAGE.FIELD=VALUE, ...' "
            "('-reward_model' leaves a stage out). The table's deltas compare against 'full' when it is listed, "
            "else the first variant."
        },
    )
    overrides: list[str] = field(
        default_factory=list,
        metadata={"help": "STAGE.FIELD=VALUE changes to the preset for every variant, e.g. grpo.steps=20."},
    )
    suites: list[str] = field(
        default_factory=lambda: list(DEFAULT_SUITES),
        metadata={"help": "Held-out suites every variant and the base model are evaluated on (see evaluate)."},
    )
    eval_limit: int | None = field(
        default=None,
        metadata={"help": "Evaluate on the first N prompts of each suite part only (empty = all).", "min": 1},
    )
    max_new_tokens: int = field(
        default=128, metadata={"help": "Longest evaluation answer, in tokens (greedy).", "min": 1, "max": 32768}
    )
    seed: int = field(
        default=0, metadata={"help": "Seed of the evaluations' bootstrap intervals.", "min": 0, "max": MAX_SEED}
    )

    def validate(self) -> None:
        from training.evaluate_job import EvaluateConfig
        from training.registry import parse_config

        planned = plan_experiment(self.preset, self.variants, self.overrides)
        model = planned[0].overrides["grpo"].get("model") or _preset_model(self.preset)
        if str(model).startswith("run:"):
            raise LabError("the base model must be a stored model, not a run of this experiment", "overrides")
        parse_config(EvaluateConfig, self.evaluate_values([str(model)]))

    def evaluate_values(self, checkpoints: list[str]) -> dict[str, Any]:
        return {
            "checkpoints": checkpoints,
            "suites": list(self.suites),
            "limit": self.eval_limit,
            "max_new_tokens": self.max_new_tokens,
            "seed": self.seed,
        }


def reference_variant(names: list[str]) -> str:
    """The variant the table's deltas compare against: 'full' when present, else the first."""
    return REFERENCE if REFERENCE in names else names[0]


class _Stages:
    """Runs an experiment's stage jobs here, one at a time, remembering each in the experiment's state."""

    def __init__(self, ctx: JobContext, state: dict[str, Any], total: int) -> None:
        self.ctx = ctx
        self.state = state
        self.total = total
        self.done = sum(1 for s in state.get("stages", {}).values() if s.get("status") == JobStatus.SUCCEEDED)

    def save(self) -> None:
        self.ctx.save_state(self.state)

    def run(self, key: str, kind: str, config: Mapping[str, Any], name: str) -> dict[str, Any] | None:
        """The finished stage's record {"run_id", "job_id", "status", "result"}; None when the experiment stops."""
        from storage import jobs as job_store
        from training.jobs import resume_child, start_child

        stages = self.state.setdefault("stages", {})
        known = stages.get(key)
        if known and known.get("status") == JobStatus.SUCCEEDED:
            return known
        if not known:
            earlier = finished_stage(kind, config, self.ctx.run_id, stages)
            if earlier is not None:
                stages[key] = earlier
                self.save()
                where = f" of experiment {earlier['from']}" if earlier.get("from") else ""
                print(f"[experiment] {name}: reusing run {earlier['run_id']}{where}", flush=True)
                return earlier
        self.ctx.progress(self.done, self.total, f"{name} ({kind})")
        if known:  # stopped part-way in an earlier attempt: continue that run from its own last checkpoint
            job = resume_child(int(known["job_id"]), self.ctx.should_stop, self._started(key, kind))
        else:
            job = start_child(kind, config, name, self.ctx.should_stop, self._started(key, kind))
        job = job_store.get_job(job.id)
        stages[key] = {"kind": kind, "run_id": job.run_id, "job_id": job.id, "status": str(job.status),
                       "result": job.result or {}}  # fmt: skip
        self.save()
        if job.status == JobStatus.SUCCEEDED:
            self.done += 1
            return stages[key]
        if self.ctx.should_stop():
            return None
        if job.status == JobStatus.INTERRUPTED:  # the signal reached the stage: the experiment stops with it
            request = getattr(self.ctx, "request_stop", None)
            if callable(request):
                request("interrupt")
            return None
        raise LabError(f"stage {kind} ({name}) ended {job.status}: {job.error_message or ''}".strip(), "variants")

    def _started(self, key: str, kind: str) -> Callable[[Any], None]:
        def started(job: Any) -> None:  # recorded before it runs, so a killed experiment resumes this run
            self.state.setdefault("stages", {})[key] = {
                "kind": kind, "run_id": job.run_id, "job_id": job.id, "status": str(job.status), "result": {}
            }  # fmt: skip
            self.save()

        return started


def finished_stage(kind: str, config: Mapping[str, Any], run_id: int, own: Mapping[str, Any]) -> dict[str, Any] | None:
    """A finished stage run whose stored config equals this one (same upstream runs included; a field added to the
    kind since, left at its default, counts as equal): in this experiment's state or another experiment's, with
    its run still stored. So a resumed experiment, and one that adds a variant, never retrains what exists."""
    from storage.runs import get_run, list_runs, load_state
    from training.jobs import kind_for
    from training.registry import same_config

    config_cls = kind_for(kind).config_cls
    sources = [(None, own)] + [
        (run.id, load_state(run.id).get("stages") or {}) for run in list_runs(kind="experiment", limit=200)
        if run.id != run_id
    ]  # fmt: skip
    for source, records in sources:
        for record in records.values():
            if record.get("kind") != kind or record.get("status") != JobStatus.SUCCEEDED:
                continue
            try:
                stored = get_run(int(record["run_id"]))
            except LabError:  # deleted since
                continue
            if stored.status == JobStatus.SUCCEEDED and same_config(config_cls, config, stored.config):
                return {**record, "from": source} if source is not None else dict(record)
    return None


def _evaluations(result: Mapping[str, Any]) -> dict[str, int]:
    """suite name -> evaluation id, from an evaluate job's result."""
    return {str(e["suite"]): int(e["id"]) for e in result.get("evaluations") or [] if e.get("id") is not None}


def _run_variant(planned: PlannedVariant, config: ExperimentConfig, ctx: JobContext, stages: _Stages) -> bool:
    """Train and evaluate one variant; False when the experiment was stopped."""
    from storage.checkpoints import last_checkpoint
    from training.pipeline import plan_pipeline

    name = planned.variant.name
    record = stages.state.setdefault("variants", {}).setdefault(name, {"runs": {}})
    record["description"] = planned.variant.description
    if record.get("done"):
        return True
    plan = plan_pipeline(config.preset, planned.stages, planned.overrides, f"{_prefix(ctx)} / {name}")
    run_ids: dict[str, int] = {}
    for stage in plan:
        values = {**stage.config, **{f: format_run_ref(run_ids[k]) for f, k in stage.links.items()}}
        done = stages.run(stage_key(stage.kind, values), stage.kind, values, stage.name)
        if done is None:
            return False
        run_ids[stage.kind] = int(done["run_id"])
        record["runs"][stage.kind] = run_ids[stage.kind]
    final = last_checkpoint(run_ids["grpo"])
    if final is None:
        raise LabError(f"variant {name}: its grpo run {run_ids['grpo']} stored no checkpoint", "variants")
    record["checkpoint_id"] = final.id
    values = config.evaluate_values([str(final.id)])
    done = stages.run(stage_key("evaluate", values), "evaluate", values, f"{_prefix(ctx)} / {name}: evaluate")
    if done is None:
        return False
    record["evaluations"] = _evaluations(done["result"])
    record["done"] = True
    stages.save()
    return True


def _preset_model(preset: str) -> str:
    from training.pipeline import load_preset

    return str(load_preset(preset).config("grpo").get("model") or "bundled")


def _prefix(ctx: JobContext) -> str:
    return f"experiment {ctx.run_id}"


def run(config: ExperimentConfig, ctx: JobContext) -> dict[str, Any]:
    planned = plan_experiment(config.preset, config.variants, config.overrides, _prefix(ctx))
    state = dict(ctx.resume_state())
    state.update({"preset": config.preset, "order": [p.variant.name for p in planned]})
    state["reference"] = reference_variant(state["order"])
    # One unit per distinct stage at most (shared ones count once when they run), plus the base evaluation.
    total = 1 + sum(len(p.stages) + 1 for p in planned)
    stages = _Stages(ctx, state, total)
    base_model = str(planned[0].overrides["grpo"].get("model") or _preset_model(config.preset))
    values = config.evaluate_values([base_model])
    base = stages.run(stage_key("evaluate", values), "evaluate", values, f"{_prefix(ctx)} / base: evaluate")
    if base is None:
        return {"stopped": "during the base evaluation"}
    state["base"] = {"model": base_model, "evaluations": _evaluations(base["result"])}
    stages.save()
    for p in planned:
        if not _run_variant(p, config, ctx, stages):
            return {"stopped": f"during variant {p.variant.name}"}
    ctx.progress(total, total, f"{len(planned)} variants trained and evaluated")
    from evals.ablation import ablation_table

    table = ablation_table(state)
    return {"variants": state["order"], "reference": state["reference"], "rows": len(table.rows)}


register_kind(
    JobKind(
        name="experiment",
        config_cls=ExperimentConfig,
        run=run,
        help="Train and evaluate a preset under several variants (ablations); the Runs tab shows the ablation table.",
    )
)
