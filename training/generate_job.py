"""The "generate" job: a model × a prompt set → responses with their reward breakdowns, stored as samples.

Batched generation with progress per batch. Each finished batch is saved (samples, metrics, resume state)
in one transaction, so a resumed attempt starts at the first unfinished batch: no repeats, no gaps.
Batch b uses seed + b, so a resumed run generates what an uninterrupted one would have.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.model_access import check_remote_code
from lab.random_seed import MAX_SEED
from training import refs
from training.registry import JobContext, JobKind, register_kind

PROMPT_SOURCES = (
    "'suite:heldout-if', 'suite:heldout-ood', 'suite:math-probe' or 'suite:arith-probe' (built-in eval suites), "
    "'seed:heldout' or "
    "'seed:train' (shipped seed tasks, no constraints), 'dataset:<id>' or '<id>' (a stored dataset), 'run:<id>' "
    "(a dataset run's file, waited for), or a path to a .jsonl/.parquet file of dataset rows ({prompt, "
    "instruction_id_list, kwargs, constraints, level, source})"
)


@dataclass
class GenerateConfig:
    # --- what to generate with
    model: str = field(
        default="bundled",
        metadata={
            "help": "Model spec: 'bundled' (SmolLM2-135M-Instruct), a local checkpoint folder, a hub id, a stored "
            "checkpoint id or 'run:<id>' (a GRPO run's newest checkpoint, waited for)."
        },
    )
    checkpoint: int | None = field(
        default=None, metadata={"help": "ID of a stored checkpoint to generate with; overrides `model` when set."}
    )
    trust_remote_code: bool = field(default=False, metadata={"help": "Run a checkpoint's own Python code."})
    # --- what to answer
    prompts: str = field(default="suite:heldout-if", metadata={"help": f"Prompt set: {PROMPT_SOURCES}."})
    limit: int | None = field(
        default=None, metadata={"help": "Use only the first N prompts (empty = all).", "min": 1, "max": 1_000_000}
    )
    # --- generation
    batch_size: int = field(
        default=8, metadata={"help": "Prompts generated together; progress is per batch.", "min": 1, "max": 4096}
    )
    max_new_tokens: int = field(default=256, metadata={"help": "Longest response, in tokens.", "min": 1, "max": 32768})
    temperature: float = field(
        default=0.0, metadata={"help": "Sampling temperature; 0 = greedy.", "min": 0.0, "max": 10.0}
    )
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling mass, in (0, 1].", "min": 0.0, "max": 1.0})
    seed: int = field(
        default=0, metadata={"help": "Random seed; batch b samples with seed + b.", "min": 0, "max": MAX_SEED}
    )
    # --- scoring
    reward_model: int | None = field(
        default=None,
        metadata={"help": "ID of a stored reward-model checkpoint to score soft constraints (empty = hard only)."},
    )

    def validate(self) -> None:
        check_remote_code(self.trust_remote_code)  # needs the operator's LAB_ALLOW_REMOTE_CODE=1
        if self.batch_size < 1:
            raise LabError(f"must be >= 1, got {self.batch_size}", field="batch_size")
        if self.max_new_tokens < 1:
            raise LabError(f"must be >= 1, got {self.max_new_tokens}", field="max_new_tokens")
        if self.temperature < 0:
            raise LabError(f"must be >= 0 (0 = greedy), got {self.temperature}", field="temperature")
        if not 0 < self.top_p <= 1:
            raise LabError(f"must be in (0, 1], got {self.top_p}", field="top_p")
        if self.limit is not None and self.limit < 1:
            raise LabError(f"must be >= 1 or empty for all prompts, got {self.limit}", field="limit")
        if self.checkpoint is not None:
            refs.resolve_checkpoint(self.checkpoint, "checkpoint")
        elif refs.run_ref(self.model) is not None:
            refs.check_run_ref(self.model, "grpo", "model")
        else:
            refs.resolve_model(self.model, "model")
        if self.reward_model is not None:
            refs.resolve_checkpoint(self.reward_model, "reward_model")
        _check_prompt_source(self.prompts)

    def model_spec(self) -> str:
        if self.checkpoint is not None:
            return str(refs.resolve_checkpoint(self.checkpoint, "checkpoint"))
        return refs.resolve_model(self.model, "model")

    def run_refs(self) -> list[tuple[str, str]]:
        """(reference, field) of the other runs' output this job uses: run() waits for them to succeed."""
        return [(self.prompts, "prompts"), *([(self.model, "model")] if self.checkpoint is None else [])]


# ---------------------------------------------------------------- prompt sets


def _check_prompt_source(source: str) -> None:
    """Cheap checks at submit time (the set itself is built when the job runs)."""
    text = (source or "").strip()
    prefix, _, rest = text.partition(":")
    if prefix == "suite":
        from evals.suites import BUILTIN_SUITES

        if rest not in BUILTIN_SUITES:
            raise LabError(f"unknown suite {rest!r}; allowed: {', '.join(BUILTIN_SUITES)}", field="prompts")
    elif prefix == "seed":
        if rest not in ("heldout", "train"):
            raise LabError(f"unknown seed set {rest!r}; allowed: heldout, train", field="prompts")
    elif refs.run_ref(text) is not None:
        refs.check_run_ref(text, "dataset", "prompts")
    else:
        _prompt_file(text)


def _prompt_file(text: str) -> Path:
    """A dataset reference (training.refs' syntax: a stored id, 'dataset:<id>', 'run:<id>' or a file) -> the file."""
    if refs.run_ref(text) is None and refs.dataset_id(text) is None and not Path(text).expanduser().is_file():
        raise LabError(f"{text!r} is neither a prompt set nor an existing file; use {PROMPT_SOURCES}", field="prompts")
    return refs.resolve_dataset(text, "prompts")


def _prompt_file_rows(path: Path) -> list[dict[str, Any]]:
    """The file's rows (refs.read_rows), each with a non-empty string 'prompt'."""
    rows = refs.read_rows(path, "prompts")
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or not isinstance(row.get("prompt"), str) or not row["prompt"].strip():
            raise LabError(f"{path.name} row {number} needs a non-empty string 'prompt'", field="prompts")
    if not rows:
        raise LabError(f"{path.name} has no rows", field="prompts")
    return rows


def prompt_rows(source: str, limit: int | None = None) -> list[dict[str, Any]]:
    """The rows a prompt source names, in a fixed order (resumes rely on it)."""
    text = source.strip()
    prefix, _, rest = text.partition(":")
    if prefix == "suite":
        from evals.suites import load_suite

        rows = [item.row() for item in load_suite(rest).items]
    elif prefix == "seed":
        from lab.seeds import load_heldout_tasks, load_seed_tasks

        tasks = load_heldout_tasks() if rest == "heldout" else load_seed_tasks()
        rows = [{"key": t.id, "prompt": t.task, "source": f"seed:{rest}", "instruction_id_list": []} for t in tasks]
    else:
        rows = _prompt_file_rows(_prompt_file(text))
    return rows[:limit] if limit else rows


def _fingerprint(rows: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()[:16]


# ---------------------------------------------------------------- the job


def _batch_metrics(breakdowns: list[Any], responses: list[str], seconds: float) -> dict[str, float]:
    values: dict[str, float] = {"time/batch_s": seconds}
    rewards = [b.reward for b in breakdowns if b.reward is not None]
    if rewards:
        values["reward/mean"] = sum(rewards) / len(rewards)
    values["response/chars"] = sum(len(r) for r in responses) / max(1, len(responses))
    values["format/ok_rate"] = sum(1 for b in breakdowns if b.format_ok) / max(1, len(breakdowns))
    for kind in ("hard", "soft"):
        scored = [r for b in breakdowns for r in b.results if r.kind == kind and r.scored]
        if scored:
            values[f"{kind}/pass_rate"] = sum(1 for r in scored if r.passed) / len(scored)
    return values


def run(config: GenerateConfig, ctx: JobContext) -> dict[str, Any]:
    from lab.models import generate_batch, load_model
    from lab.reward import breakdown_batch

    if not refs.await_run_refs(config.run_refs(), ctx.should_stop):
        return {"stopped": "before start"}
    rows = prompt_rows(config.prompts, config.limit)
    fingerprint = _fingerprint(rows)
    state = dict(ctx.resume_state())
    if state and state.get("fingerprint") != fingerprint:
        raise LabError("the prompt set changed since the first attempt; submit a new job instead", field="prompts")
    batches = [rows[i : i + config.batch_size] for i in range(0, len(rows), config.batch_size)]
    start = int(state.get("next_batch", 0))
    ctx.resume_from(start)  # a batch in flight when an earlier attempt died is generated again: drop its rows
    reward_sum, reward_n = float(state.get("reward_sum", 0.0)), int(state.get("reward_n", 0))
    ctx.progress(start, len(batches), "loading the model")
    loaded = load_model(config.model_spec(), trust_remote_code=config.trust_remote_code)
    scorer = None
    if config.reward_model is not None:
        from lab.rm_scorer import load_rm_scorer

        scorer = load_rm_scorer(refs.resolve_checkpoint(config.reward_model, "reward_model"))
    done = start
    if start:
        print(f"resuming at batch {start + 1} of {len(batches)}", flush=True)
    for b in range(start, len(batches)):
        if ctx.should_stop():
            break
        batch = batches[b]
        t0 = time.monotonic()
        responses = generate_batch(
            loaded,
            [row["prompt"] for row in batch],
            max_new_tokens=config.max_new_tokens,
            temperature=config.temperature,
            top_p=config.top_p,
            seed=config.seed + b,
            batch_size=config.batch_size,
        )
        breakdowns = breakdown_batch(batch, responses, soft_scorer=scorer)
        step = b + 1
        ctx.log_samples(
            step,
            [
                {
                    "prompt": row["prompt"],
                    "response": response,
                    "breakdown": bd.to_dict(),
                    "reward": bd.reward,
                    "meta": {"index": b * config.batch_size + i, "key": row.get("key"), "level": row.get("level")},
                }
                for i, (row, response, bd) in enumerate(zip(batch, responses, breakdowns, strict=True))
            ],
        )
        ctx.log_metrics(step, _batch_metrics(breakdowns, responses, time.monotonic() - t0))
        scored = [bd.reward for bd in breakdowns if bd.reward is not None]
        reward_sum, reward_n = reward_sum + sum(scored), reward_n + len(scored)
        # The batch's rows and the state that says "done up to here" commit together.
        ctx.save_state(
            {"fingerprint": fingerprint, "next_batch": b + 1, "reward_sum": reward_sum, "reward_n": reward_n}
        )
        ctx.progress(b + 1, len(batches), f"batch {b + 1} of {len(batches)}")
        done = b + 1
    return {
        "prompts": len(rows),
        "batches": len(batches),
        "batches_done": done,
        "mean_reward": reward_sum / reward_n if reward_n else None,
        "scored": reward_n,
    }


register_kind(
    JobKind(
        name="generate",
        config_cls=GenerateConfig,
        run=run,
        help="Generate responses for a prompt set with a model or checkpoint and store them with reward breakdowns.",
    )
)
