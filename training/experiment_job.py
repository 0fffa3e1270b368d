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
from storage.models import ACTIVE_STATUSES, JobStatus
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
        metadata={
            "help": "Evaluate on the first N prompts of each suite part only (empty = all).",
            "min": 1,
            "max": 1_000_000,
        },
    )
    max_new_tokens: int = field(
        default=128, metadata={"help": "Longest evaluation answer, in tokens (greedy).", "min": 1, "max": 32768}
    )
    seed: int = field(
        default=0, metadata={"help": "Seed of the evaluations' bootstrap intervals.", "min": 0, "max": MAX_SEED}
    )

    def validate(self) -> None:
        from training.evaluate_job import EvaluateConfig
        from training.pipeline import load_preset
        from training.registry import parse_config

        planned = plan_experiment(self.preset, self.variants, self.overrides)
        model = planned[0].base_model(load_preset(self.preset))
        if model.startswith("run:"):
            raise LabError(f"grpo.model: the base model must be a stored model or folder, got {model}", "overrides")
        parse_config(EvaluateConfig, self.evaluate_values([model]))

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
        from training.jobs import resume_child, start_child

        stages = self.state.setdefault("stages", {})
        known = stages.get(key)
        newest = _newest_job(int(known["run_id"])) if known else None
        if known and newest is None:  # its run was deleted since: run the stage again
            stages.pop(key)
            known = None
        if newest is not None and newest.status == JobStatus.SUCCEEDED:
            if known and known.get("job_id") == newest.id and known.get("status") == JobStatus.SUCCEEDED:
                return known
            return self._record(key, kind, newest)  # it ended after the state was last saved, or a later attempt did
        if self.ctx.should_stop():
            return None
        if newest is not None and newest.status in ACTIVE_STATUSES:
            raise LabError(
                f"stage {kind} ({name}) still has job {newest.id} {newest.status}; resume the experiment when it has "
                "ended (a worker marks a killed job interrupted within a minute)",
                "variants",
            )
        if known is None:
            earlier = finished_stage(kind, config, self.ctx.run_id, stages)
            if earlier is not None:
                stages[key] = earlier
                self.save()
                where = f" of experiment {earlier['from']}" if earlier.get("from") else ""
                print(f"[experiment] {name}: reusing run {earlier['run_id']}{where}", flush=True)
                return earlier
        self.ctx.progress(self.done, self.total, f"{name} ({kind})")
        if newest is not None:  # stopped part-way in an earlier attempt: continue that run from its last checkpoint
            job = resume_child(newest.id, self.ctx.should_stop, self._started(key, kind))
        else:
            job = start_child(kind, config, name, self.ctx.should_stop, self._started(key, kind))
        record = self._record(key, kind, job)
        if job.status == JobStatus.SUCCEEDED:
            self.done += 1
            return record
        if self.ctx.should_stop():
            return None
        if job.status in (JobStatus.INTERRUPTED, JobStatus.CANCELLED):  # a signal, or a cancel of the stage itself
            request = getattr(self.ctx, "request_stop", None)
            if callable(request):
                request("interrupt" if job.status == JobStatus.INTERRUPTED else "cancel")
            return None
        raise LabError(f"stage {kind} ({name}) ended {job.status}: {job.error_message or ''}".strip(), "variants")

    def _record(self, key: str, kind: str, job: Any) -> dict[str, Any]:
        from storage import jobs as job_store

        job = job_store.get_job(job.id)
        record = {"kind": kind, "run_id": job.run_id, "job_id": job.id, "status": str(job.status),
                  "result": job.result or {}}  # fmt: skip
        self.state.setdefault("stages", {})[key] = record
        self.save()
        return record

    def _started(self, key: str, kind: str) -> Callable[[Any], None]:
        def started(job: Any) -> None:  # recorded before it runs, so a killed experiment resumes this run
            self.state.setdefault("stages", {})[key] = {
                "kind": kind, "run_id": job.run_id, "job_id": job.id, "status": str(job.status), "result": {}
            }  # fmt: skip
            self.save()

        return started


def _newest_job(run_id: int) -> Any:
    """The newest job of a run (its latest attempt), or None when the run no longer exists."""
    from storage import jobs as job_store

    found = job_store.list_jobs(run_id=run_id, limit=1)
    return found[0] if found else None


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
    overrides = planned.overrides
    if planned.reward_model_overrides is not None:  # the RM learns from the base recipe's data, GRPO from this one's
        rm_plan = plan_pipeline(config.preset, ["dataset", "reward_model"], planned.reward_model_overrides,
                                f"{_prefix(ctx)} / {name}")  # fmt: skip
        rm_runs = _run_plan(rm_plan, stages)
        if rm_runs is None:
            return False
        record["runs"]["reward_model_dataset"] = rm_runs["dataset"]
        record["runs"]["reward_model"] = rm_runs["reward_model"]
        overrides = {
            **overrides,
            "grpo": {**overrides["grpo"], "reward_model": format_run_ref(rm_runs["reward_model"])},
        }
    plan = plan_pipeline(config.preset, planned.grpo_stages, overrides, f"{_prefix(ctx)} / {name}")
    run_ids = _run_plan(plan, stages)
    if run_ids is None:
        return False
    record["runs"].update(run_ids)
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


def _run_plan(plan: list[Any], stages: _Stages) -> dict[str, int] | None:
    """Run a pipeline plan's stages in order (linked fields filled with the earlier stages' runs); kind -> run id,
    or None when the experiment stops."""
    run_ids: dict[str, int] = {}
    for stage in plan:
        values = {**stage.config, **{f: format_run_ref(run_ids[k]) for f, k in stage.links.items()}}
        done = stages.run(stage_key(stage.kind, values), stage.kind, values, stage.name)
        if done is None:
            return None
        run_ids[stage.kind] = int(done["run_id"])
    return run_ids


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
    from training.pipeline import load_preset

    base_model = planned[0].base_model(load_preset(config.preset))
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
