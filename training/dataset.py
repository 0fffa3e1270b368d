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
from typing import Any

from lab.errors import LabError
from training.refs import write_rows
from training.registry import JobContext, JobKind, register_kind

ROW_FORMAT = "iflab-rows-v1"


@dataclass
class DatasetConfig:
    """Curriculum dataset: every seed task gets `max_constraints` constraints -> one row per level."""

    # What to build
    name: str = field(default="curriculum", metadata={"help": "Dataset name in storage; each build is a new version."})
    seed: int = field(default=0, metadata={"help": "Random seed: the same seed and settings give the same file."})
    num_tasks: int = field(
        default=100, metadata={"help": "Seed tasks to use (one curriculum group each); 0 = all available."}
    )
    seed_tasks_file: str = field(
        default="", metadata={"help": "Your own seed tasks (.jsonl or .csv with a 'task' column); empty = shipped."}
    )
    # Constraints
    max_constraints: int = field(
        default=5, metadata={"help": "N: constraints per task, giving levels L1..LN (the paper uses 5)."}
    )
    soft_ratio: float = field(
        default=0.6, metadata={"help": "Probability that a sampled constraint is soft (paper: 60 % soft), 0..1."}
    )
    include_types: list[str] = field(
        default_factory=list, metadata={"help": "Only sample these constraint type ids (empty = all types)."}
    )
    exclude_types: list[str] = field(default_factory=list, metadata={"help": "Never sample these type ids."})
    curriculum: bool = field(
        default=True, metadata={"help": "All levels L1..LN as rows; false = only LN (the paper's ablation)."}
    )
    # Reasoning items
    math_ratio: float = field(
        default=0.2, metadata={"help": "Fraction of all rows that are math word problems (exact-match reward), 0..<1."}
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
        if not self.name.strip():
            raise LabError("must not be empty", field="name")
        from lab.constraints.registry import all_types

        known = {t.id for t in all_types()}
        for where, ids in (("include_types", self.include_types), ("exclude_types", self.exclude_types)):
            unknown = [i for i in ids if i not in known]
            if unknown:
                raise LabError(f"unknown constraint type {unknown[0]!r}; see the constraint catalogue", field=where)
        if self.include_types and len(set(self.include_types)) - len(set(self.exclude_types)) < self.max_constraints:
            raise LabError(
                f"lists fewer types than max_constraints ({self.max_constraints}); a set never repeats a type",
                field="include_types",
            )
        if self.seed_tasks_file and not Path(self.seed_tasks_file).expanduser().is_file():
            raise LabError(f"file {self.seed_tasks_file!r} does not exist", field="seed_tasks_file")


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
    from lab.compose import curriculum, sample_constraints
    from lab.math_problems import generate_math_problems

    rows: list[dict[str, Any]] = []
    include = config.include_types or None
    for seed_task in tasks:
        # One rng per task: adding tasks does not change the constraints of the others.
        rng = random.Random(f"constraints:{config.seed}:{seed_task.id}")
        try:
            constraints = sample_constraints(
                rng, config.max_constraints, config.soft_ratio, task=seed_task.task, include=include,
                exclude=config.exclude_types,
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
    rows.extend(p.as_row() for p in generate_math_problems(n_math, seed=config.seed, split="train"))
    if config.shuffle:
        random.Random(f"shuffle:{config.seed}").shuffle(rows)
    return rows


def dataset_stats(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts per level, per constraint type and per kind (constraint instances over all rows)."""
    from lab.constraints.registry import get_type

    levels = Counter(str(r.get("level", 0)) for r in rows if r.get("instruction_id_list"))
    types = Counter(t for r in rows for t in r.get("instruction_id_list") or [])
    kinds = Counter(get_type(t).kind for r in rows for t in r.get("instruction_id_list") or [])
    return {
        "rows": len(rows),
        "groups": len({r["group_id"] for r in rows if r.get("instruction_id_list")}),
        "math_rows": sum(1 for r in rows if r.get("source") == "math"),
        "levels": dict(sorted(levels.items(), key=lambda kv: int(kv[0]))),
        "constraint_types": dict(sorted(types.items())),
        "kinds": {"hard": kinds.get("hard", 0), "soft": kinds.get("soft", 0)},
    }


def run(config: DatasetConfig, ctx: JobContext) -> dict[str, Any]:
    ctx.progress(0, 3, "loading seed tasks")
    tasks = load_tasks(config)
    ctx.progress(1, 3, f"sampling constraints for {len(tasks)} tasks")
    rows = build_rows(config, tasks)
    if not rows:
        raise LabError("the dataset would be empty; raise num_tasks or math_ratio", field="num_tasks")
    out_dir = Path(ctx.work_dir) / "datasets"
    tmp = out_dir / f"{config.name}.building.jsonl"
    write_rows(tmp, rows)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    # The content hash in the name versions the file: a rebuild with other settings never overwrites it.
    path = out_dir / f"{config.name}-{digest[:12]}.jsonl"
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
