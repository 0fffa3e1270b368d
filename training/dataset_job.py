"""The `dataset` job: seed tasks x sampled conflict-free constraint sets -> curriculum rows L1..LN, plus math items.

Deterministic for a seed: the same config writes byte-identical JSONL. Run it with
`python -m training run dataset --config training/presets/cpu-smoke.yaml` (the YAML's `dataset:` section).
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from evals.domains import family_of
from lab.constraints.base import FAMILIES
from lab.errors import LabError
from lab.paths import SLUG_RULE, check_slug, confined
from lab.random_seed import MAX_SEED
from training.refs import write_rows
from training.registry import JobContext, JobKind, register_kind

ROW_FORMAT = "iflab-rows-v1"


@dataclass
class DatasetConfig:
    """Curriculum dataset: every seed task gets `max_constraints` constraints -> one row per level."""

    # What to build
    name: str = field(
        default="curriculum",
        metadata={"help": f"Dataset name in storage ({SLUG_RULE}); each build is a new version."},
    )
    seed: int = field(
        default=0,
        metadata={"help": "Random seed: the same seed and settings give the same file.", "min": 0, "max": MAX_SEED},
    )
    num_tasks: int = field(
        default=100,
        metadata={
            "help": "Seed tasks to use (one curriculum group each); 0 = all available.",
            "min": 0,
            "max": 1_000_000,
        },
    )
    seed_tasks_file: str = field(
        default="", metadata={"help": "Your own seed tasks (.jsonl or .csv with a 'task' column); empty = shipped."}
    )
    # Constraints
    max_constraints: int = field(
        default=5,
        metadata={"help": "N: constraints per task, giving levels L1..LN (the paper uses 5).", "min": 1, "max": 10},
    )
    soft_ratio: float = field(
        default=0.6,
        metadata={
            "help": "Probability that a sampled constraint is soft (paper: 60 % soft), 0..1.",
            "min": 0.0,
            "max": 1.0,
        },
    )
    families: list[str] = field(
        default_factory=lambda: ["ifeval", "soft"],  # lab.compose.DEFAULT_FAMILIES
        metadata={
            "help": "Constraint families to sample: ifeval (IFEval's 25 hard types), ifbench (IFBench's 58, "
            "out-of-domain by default), soft. soft_ratio applies when soft is among them."
        },
    )
    hold_out: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Families never to train on, whatever families and include_types say (e.g. ifbench, to "
            "evaluate on heldout-ood as an out-of-domain test); recorded with the dataset."
        },
    )
    include_types: list[str] = field(
        default_factory=list,
        metadata={"help": "Only sample these constraint type ids (empty = all types of the families)."},
    )
    exclude_types: list[str] = field(default_factory=list, metadata={"help": "Never sample these type ids."})
    curriculum: bool = field(
        default=True, metadata={"help": "All levels L1..LN as rows; false = only LN (the paper's ablation)."}
    )
    # Reasoning items
    math_ratio: float = field(
        default=0.2,
        metadata={
            "help": "Fraction of all rows that are math word problems (exact-match reward), 0..<1.",
            "min": 0.0,
            "max": 1.0,
        },
    )
    math_problems: Literal["math", "arith"] = field(
        default="math",
        metadata={
            "help": "Which generated problems make the math share: math (two- and three-step, numbers into the "
            "hundreds: math-probe's kind) or arith (one- and two-step, small numbers: arith-probe's kind, which "
            "a 135M model solves about a third of the time). Training questions never appear in a probe.",
        },
    )
    math_answer: Literal["boxed", "last_number"] = field(
        default="boxed",
        metadata={
            "help": "How a math row's reward checks the answer: boxed (exact match of the last \\boxed{}) or "
            "last_number (the response's last number, lm-eval's gsm8k flexible-extract: a reward a model that "
            "never boxes can still earn).",
        },
    )
    shuffle: bool = field(default=True, metadata={"help": "Shuffle rows (seeded) instead of keeping group order."})

    def validate(self) -> None:
        if self.num_tasks < 0:
            raise LabError(f"must be >= 0 (0 = all seed tasks), got {self.num_tasks}", field="num_tasks")
        if not 1 <= self.max_constraints <= 10:
            raise LabError(f"must be between 1 and 10, got {self.max_constraints}", field="max_constraints")
        if not 0.0 <= self.soft_ratio <= 1.0:
            raise LabError(f"must be between 0 and 1, got {self.soft_ratio}", field="soft_ratio")
        if not 0.0 <= self.math_ratio < 1.0:
            raise LabError(f"must be >= 0 and < 1, got {self.math_ratio}", field="math_ratio")
        check_slug(self.name, "name")  # the name becomes part of a file name in the run folder
        from lab.constraints.registry import all_types

        known = {t.id for t in all_types()}
        for where, ids in (("include_types", self.include_types), ("exclude_types", self.exclude_types)):
            unknown = [i for i in ids if i not in known]
            if unknown:
                raise LabError(f"unknown constraint type {unknown[0]!r}; see the constraint catalogue", field=where)
        sampled = sampled_families(self)
        outside = [i for i in self.include_types if family_of(i) not in sampled]
        if outside:
            raise LabError(
                f"{outside[0]!r} is an {family_of(outside[0])} type, but the sampled families are "
                f"{', '.join(sampled)} (families minus hold_out)",
                field="include_types",
            )
        if self.include_types and len(set(self.include_types)) - len(set(self.exclude_types)) < self.max_constraints:
            raise LabError(
                f"lists fewer types than max_constraints ({self.max_constraints}); a set never repeats a type",
                field="include_types",
            )
        if self.seed_tasks_file and not Path(self.seed_tasks_file).expanduser().is_file():
            raise LabError(f"file {self.seed_tasks_file!r} does not exist", field="seed_tasks_file")


def sampled_families(config: DatasetConfig) -> list[str]:
    """The families rows are drawn from: `families` minus `hold_out`; LabError naming the field if none is left."""
    for where, values in (("families", config.families), ("hold_out", config.hold_out)):
        unknown = [f for f in values if f not in FAMILIES]
        if unknown:
            raise LabError(f"must be among {', '.join(FAMILIES)}, got {unknown[0]!r}", field=where)
    sampled = [f for f in dict.fromkeys(config.families) if f not in config.hold_out]
    if not sampled:
        raise LabError(f"no family left to sample after hold_out; allowed: {', '.join(FAMILIES)}", field="families")
    return sampled


def load_tasks(config: DatasetConfig) -> list[Any]:
    """The seed tasks (lab.seeds.SeedTask: id, task), in a seeded order, cut to num_tasks."""
    from lab import seeds

    if config.seed_tasks_file:
        tasks = seeds.load_user_tasks(Path(config.seed_tasks_file).expanduser())
    else:
        tasks = seeds.load_seed_tasks()
    if not tasks:
        raise LabError("no seed tasks found", field="seed_tasks_file")
    random.Random(f"tasks:{config.seed}").shuffle(tasks)
    return tasks[: config.num_tasks] if config.num_tasks else tasks


def build_rows(config: DatasetConfig, tasks: list[Any]) -> list[dict[str, Any]]:
    """Curriculum rows for every task plus math rows at `math_ratio`; pure and deterministic."""
    from lab.arith_problems import generate_arith_problems
    from lab.compose import curriculum, sample_constraints
    from lab.math_problems import BOXED, generate_math_problems

    rows: list[dict[str, Any]] = []
    include = config.include_types or None
    families = sampled_families(config)
    for seed_task in tasks:
        # One rng per task: adding tasks does not change the constraints of the others.
        rng = random.Random(f"constraints:{config.seed}:{seed_task.id}")
        try:
            constraints = sample_constraints(
                rng, config.max_constraints, config.soft_ratio, task=seed_task.task, include=include,
                exclude=config.exclude_types, families=families,
            )  # fmt: skip
        except LabError as error:
            if error.field != "n":
                raise
            # The allowed types conflict too much for N constraints: say which setting to change.
            message = f"{error.args[0]} (task {seed_task.id}); allow more types or lower max_constraints"
            raise LabError(message, field="max_constraints") from None
        levels = curriculum(seed_task.task, constraints, group_id=f"{seed_task.id}@{config.seed}", source="curriculum")
        rows.extend(levels if config.curriculum else levels[-1:])
    n_math = round(len(rows) * config.math_ratio / (1.0 - config.math_ratio))
    generate = generate_arith_problems if config.math_problems == "arith" else generate_math_problems
    for problem in generate(n_math, seed=config.seed, split="train"):
        row = problem.as_row()
        if config.math_answer != BOXED:  # a boxed row says nothing: the reward's default
            row["answer_match"] = config.math_answer
        rows.append(row)
    if config.shuffle:
        random.Random(f"shuffle:{config.seed}").shuffle(rows)
    return rows


def dataset_stats(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts per level, per constraint type and per kind (constraint instances over all rows)."""
    from lab.constraints.registry import get_type

    levels = Counter(str(r.get("level", 0)) for r in rows if r.get("instruction_id_list"))
    types = Counter(t for r in rows for t in r.get("instruction_id_list") or [])
    kinds = Counter(get_type(t).kind for r in rows for t in r.get("instruction_id_list") or [])
    families = Counter(family_of(t) for r in rows for t in r.get("instruction_id_list") or [])
    return {
        "rows": len(rows),
        "groups": len({r["group_id"] for r in rows if r.get("instruction_id_list")}),
        "math_rows": sum(1 for r in rows if r.get("source") == "math"),
        "levels": dict(sorted(levels.items(), key=lambda kv: int(kv[0]))),
        "constraint_types": dict(sorted(types.items())),
        "kinds": {"hard": kinds.get("hard", 0), "soft": kinds.get("soft", 0)},
        "families": {f: families.get(f, 0) for f in FAMILIES},
    }


def run(config: DatasetConfig, ctx: JobContext) -> dict[str, Any]:
    ctx.progress(0, 3, "loading seed tasks")
    tasks = load_tasks(config)
    ctx.progress(1, 3, f"sampling constraints for {len(tasks)} tasks")
    rows = build_rows(config, tasks)
    if not rows:
        raise LabError("the dataset would be empty; raise num_tasks or math_ratio", field="num_tasks")
    check_slug(config.name, "name")
    out_dir = Path(ctx.work_dir) / "datasets"
    tmp = confined(out_dir / f"{config.name}.building.jsonl", ctx.work_dir)
    with ctx.doing(f"writing dataset {config.name}"):
        write_rows(tmp, rows)
        digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
        # The content hash in the name versions the file: a rebuild with other settings never overwrites it.
        path = confined(out_dir / f"{config.name}-{digest[:12]}.jsonl", ctx.work_dir)
        tmp.replace(path)
    stats = dataset_stats(rows)
    meta = {"format": ROW_FORMAT, "sha256": digest, "seed": config.seed, "config": _config_dict(config), **stats}
    dataset_id = ctx.register_dataset(config.name, path, meta)
    ctx.progress(3, 3, f"{stats['rows']} rows written")
    return {"dataset_id": dataset_id, "path": str(path), **stats}


def _config_dict(config: DatasetConfig) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(config)


register_kind(JobKind(name="dataset", config_cls=DatasetConfig, run=run, help=DatasetConfig.__doc__ or ""))
