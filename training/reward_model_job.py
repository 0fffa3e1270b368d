"""The `reward_model` job (paper §3.2): the policy answers every curriculum level, (o_k, c_k) vs (o_{k-1}, c_k)
pairs train a 2-class classifier on "response + constraint", and its P(class 1) becomes the soft scorer.

Reports held-out accuracy and AUC, plus agreement with the hard verifiers on pairs built the same way for hard
constraints (free ground truth). `python -m training run reward_model --set dataset=ID`.
"""

from __future__ import annotations

import gc
import json
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.random_seed import MAX_SEED
from training import refs
from training.registry import JobContext, JobKind, register_kind
from training.rm_control import control_steps, run_controls
from training.rm_pairs import (
    Pair,
    accuracy,
    build_pairs,
    group_rows,
    pair_samples,
    roc_auc,
    split_by_group,
    steps_bound,
    usable_levels,
)
from training.rm_quality import auc_metrics, rm_verdict
from training.rm_responses import answers_only, generate_responses, level_prompts

STAGE_NAMES = {
    "rm": "the reward model",
    "rm_control_verifier": "the verifier-labelled control",
    "rm_control_self": "the self-labelled control",
}
MAX_HARD_CHECK_PAIRS = 512  # the hard-verifier health check needs no more to be precise to a few points


@dataclass
class RewardModelConfig:
    """Self-supervised soft-constraint reward model trained on the policy's own responses."""

    # Data
    dataset: str = field(
        default="",
        metadata={"help": "Curriculum dataset: a stored dataset id, 'run:<id>' of a dataset run, or a file."},
    )
    max_groups: int = field(
        default=0, metadata={"help": "Use at most this many curriculum groups (0 = all).", "min": 0, "max": 1_000_000}
    )
    # The policy that writes o_k
    policy: str = field(
        default="bundled",
        metadata={"help": "Model that writes the responses: 'bundled', a folder, a hub id or a checkpoint id."},
    )
    max_new_tokens: int = field(
        default=160, metadata={"help": "Longest response generated per prompt, in tokens.", "min": 1, "max": 32768}
    )
    temperature: float = field(
        default=0.7, metadata={"help": "Sampling temperature for the responses (0 = greedy).", "min": 0.0, "max": 10.0}
    )
    top_p: float = field(
        default=0.95, metadata={"help": "Nucleus sampling mass for the responses, in (0, 1].", "min": 0.0, "max": 1.0}
    )
    generation_batch_size: int = field(
        default=64,
        metadata={
            "help": "Prompts generated together (the torch engine's slots: 64 keeps its matrix products large; plain "
            "transformers was fastest at 16).",
            "min": 1,
            "max": 4096,
        },
    )
    # The classifier
    init_from: str = field(
        default="bundled",
        metadata={"help": "Checkpoint the classifier starts from: 'bundled', a folder, a hub id or a checkpoint id."},
    )
    lora: bool = field(
        default=False, metadata={"help": "Train LoRA adapters (merged when saved) instead of all weights."}
    )
    lora_rank: int = field(default=16, metadata={"help": "LoRA rank (with lora: true).", "min": 1, "max": 1024})
    learning_rate: float = field(
        default=2e-5,
        metadata={
            "help": "AdamW learning rate (full fine-tune ~1e-5..5e-5; LoRA ~1e-4..5e-4), in (0, 1].",
            "min": 0.0,
            "max": 1.0,
        },
    )
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay.", "min": 0.0, "max": 1.0})
    epochs: int = field(
        default=3, metadata={"help": "Passes over the training pairs (the paper: 3).", "min": 1, "max": 1000}
    )
    batch_size: int = field(default=8, metadata={"help": "Pairs per optimizer step.", "min": 1, "max": 4096})
    max_length: int = field(
        default=384,
        metadata={
            "help": "Classifier input length in tokens; long responses are cut, never the constraint.",
            "min": 32,
            "max": 32768,
        },
    )
    held_out_fraction: float = field(
        default=0.1,
        metadata={"help": "Fraction of pairs held out (whole groups) for accuracy and AUC.", "min": 0.0, "max": 1.0},
    )
    seed: int = field(
        default=0,
        metadata={"help": "Random seed for sampling, the split and the classifier head.", "min": 0, "max": MAX_SEED},
    )
    # The control (does the classifier fail to learn, or do the self-labels carry no signal?)
    control_pairs: int = field(
        default=0,
        metadata={
            "help": "Hard-constraint examples (o_k and o_{k-1} of a twin count as two) to train two control "
            "classifiers on (0 = off; else at least 2): one with the verifier's labels (can this classifier learn "
            "constraints at all?), one with the self-supervised labels; both judged against the verifier on "
            "held-out hard twins. Each costs about what the reward model costs per example.",
            "min": 0,
            "max": 1_000_000,
        },
    )

    def validate(self) -> None:
        for name in ("max_new_tokens", "generation_batch_size", "epochs", "batch_size", "lora_rank"):
            if getattr(self, name) < 1:
                raise LabError(f"must be >= 1, got {getattr(self, name)}", field=name)
        if self.control_pairs < 0 or self.control_pairs == 1:
            raise LabError(
                f"must be 0 (no control) or at least 2 (examples come in twins), got {self.control_pairs}",
                field="control_pairs",
            )
        if self.max_groups < 0:
            raise LabError(f"must be >= 0 (0 = all groups), got {self.max_groups}", field="max_groups")
        if self.max_length < 32:
            raise LabError(f"must be >= 32, got {self.max_length}", field="max_length")
        if self.learning_rate <= 0:
            raise LabError(f"must be > 0, got {self.learning_rate}", field="learning_rate")
        if self.temperature < 0:
            raise LabError(f"must be >= 0 (0 = greedy), got {self.temperature}", field="temperature")
        if not 0 < self.top_p <= 1:
            raise LabError(f"must be in (0, 1], got {self.top_p}", field="top_p")
        if not 0 < self.held_out_fraction < 1:
            raise LabError(
                f"must be between 0 and 1 (exclusive), got {self.held_out_fraction}", field="held_out_fraction"
            )
        check_model_ref(self.policy, "policy")
        check_model_ref(self.init_from, "init_from")
        if refs.run_ref(self.dataset) is not None:
            refs.check_run_ref(self.dataset, "dataset", "dataset")
        else:
            check_rm_dataset(refs.read_rows(refs.resolve_dataset(self.dataset)))


def check_model_ref(ref: str, field_name: str) -> None:
    if refs.run_ref(ref) is not None:
        refs.check_run_ref(ref, "grpo", field_name)
    else:
        refs.resolve_model(ref, field_name)


def check_rm_dataset(rows: list[dict[str, Any]]) -> None:
    """Refuse datasets that cannot give a single soft pair: empty, no curriculum levels, or no soft constraints."""
    from lab.constraints.registry import get_type

    if not rows:
        raise LabError("the dataset is empty", field="dataset")
    groups = group_rows(rows)
    if not groups:
        raise LabError("the dataset has no constrained rows (only math or bare prompts)", field="dataset")
    soft = 0
    for levels in groups.values():
        for k in usable_levels(levels):
            if get_type(levels[k]["instruction_id_list"][-1]).kind == "soft":
                soft += 1
    if soft == 0:
        raise LabError(
            "the dataset has no soft constraints at consecutive curriculum levels, so there is nothing to learn; "
            "build it with soft_ratio > 0 and curriculum: true",
            field="dataset",
        )


# ---------------------------------------------------------------- the classifier


def load_classifier(config: RewardModelConfig) -> tuple[Any, Any]:
    """AutoModelForSequenceClassification (2 labels, fresh head) from `init_from`, plus its tokenizer."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from lab.models import ensure_bundled_checkpoint, resolve_model_spec
    from lab.rm_scorer import ensure_pad_token

    source = resolve_model_spec(refs.resolve_model(config.init_from, "init_from"))
    if source.kind == "adapter":
        raise LabError(
            "a LoRA adapter folder cannot initialise the classifier; use its base or a full checkpoint", "init_from"
        )
    if source.kind == "bundled":
        ensure_bundled_checkpoint()
    torch.manual_seed(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(source.location)
    model = AutoModelForSequenceClassification.from_pretrained(source.location, num_labels=2, dtype=torch.float32)
    ensure_pad_token(tokenizer, model)
    if config.lora:
        from peft import LoraConfig, TaskType, get_peft_model

        lora = LoraConfig(
            task_type=TaskType.SEQ_CLS, r=config.lora_rank, lora_alpha=2 * config.lora_rank, target_modules="all-linear"
        )
        model = get_peft_model(model, lora)
    return model, tokenizer


def train_classifier(
    model: Any,
    tokenizer: Any,
    pairs: list[Pair],
    config: RewardModelConfig,
    ctx: JobContext,
    step0: int,
    total: int,
    span: int | None = None,
    prefix: str = "rm",
) -> tuple[int, bool]:
    """Cross-entropy on (response, constraint) -> label; returns (optimizer steps, stopped early).
    Progress runs from step0 over `span` units of the job's fixed total (default: one per step); metrics are logged
    under `prefix`/ (the control classifiers log apart from the reward model)."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    from lab.rm_scorer import RMTemplate, encode_pairs, pad_batch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device).train()
    template = RMTemplate(max_length=config.max_length)
    encoded = encode_pairs(tokenizer, [(p.response, p.constraint) for p in pairs], template)
    labels = [p.label for p in pairs]
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    steps_per_epoch = (len(pairs) + config.batch_size - 1) // config.batch_size
    n_steps = steps_per_epoch * config.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, max(1, n_steps // 10), n_steps)
    rng = random.Random(f"rm-train:{config.seed}")
    step = 0
    for epoch in range(config.epochs):
        order = list(range(len(pairs)))
        rng.shuffle(order)
        for start in range(0, len(order), config.batch_size):
            if ctx.should_stop():
                return step, True
            t0 = time.perf_counter()
            idx = order[start : start + config.batch_size]
            input_ids, mask = pad_batch([encoded[i] for i in idx], tokenizer.pad_token_id)
            target = torch.tensor([labels[i] for i in idx], device=device)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
                logits = model(input_ids=input_ids.to(device), attention_mask=mask.to(device)).logits
            loss = torch.nn.functional.cross_entropy(logits.float(), target)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            batch_acc = (logits.argmax(-1) == target).float().mean().item()
            ctx.log_metrics(
                step,
                {
                    f"{prefix}/loss": loss.item(), f"{prefix}/batch_accuracy": batch_acc,
                    f"{prefix}/grad_norm": float(grad_norm), f"{prefix}/lr": scheduler.get_last_lr()[0],
                    f"{prefix}/epoch": epoch + start / max(1, len(order)),
                    f"{prefix}/step_time": time.perf_counter() - t0,
                },
            )  # fmt: skip
            units = step if span is None else (step * span) // max(1, n_steps)
            what = STAGE_NAMES.get(prefix, prefix)
            ctx.progress(step0 + units, total, f"training {what}: step {step}/{n_steps}, loss {loss.item():.3f}")
    model.eval()
    return step, False


def evaluate_pairs(
    scorer: Any, held_out: list[Pair], hard: list[Pair], scores_out: list[float] | None = None
) -> dict[str, float]:
    """Held-out accuracy/AUC against the pseudo-labels; agreement with the hard verifiers on hard pairs.
    `scores_out` receives the held-out pairs' P(adheres), in order."""
    metrics: dict[str, float] = {"rm/held_out_pairs": float(len(held_out)), "rm/hard_pairs": float(len(hard))}
    if held_out:
        scores = scorer.score([(p.response, p.constraint) for p in held_out])
        if scores_out is not None:
            scores_out.extend(float(s) for s in scores)
        labels = [p.label for p in held_out]
        metrics["rm/held_out_accuracy"] = accuracy(labels, scores) or 0.0
        metrics.update(auc_metrics("rm/held_out_auc", labels, scores))
        metrics["rm/held_out_mean_p_pos"] = _mean([s for s, y in zip(scores, labels, strict=True) if y == 1])
        metrics["rm/held_out_mean_p_neg"] = _mean([s for s, y in zip(scores, labels, strict=True) if y == 0])
    if hard:
        truth = [verifier_verdict(p) for p in hard]
        metrics["rm/pseudo_label_hard_agreement"] = _mean(
            [float(p.label == t) for p, t in zip(hard, truth, strict=True)]
        )
        metrics.update(label_signal(hard, truth))
        scores = scorer.score([(p.response, p.constraint) for p in hard])
        metrics["rm/hard_agreement"] = accuracy(truth, scores) or 0.0
        auc = roc_auc(truth, scores)
        if auc is not None:
            metrics["rm/hard_auc"] = auc
    return metrics


def verifier_verdict(pair: Pair) -> int:
    """1 when the hard constraint's verifier passes the pair's response."""
    from lab.constraints.registry import get_type

    return int(get_type(pair.type_id).check(pair.response, pair.kwargs).passed)


def sample_whole_pairs(pairs: list[Pair], limit: int, seed: int) -> list[Pair]:
    """At most `limit` examples, drawn as whole (o_k, o_{k-1}) pairs so each keeps its twin (seeded)."""
    if len(pairs) <= limit:
        return pairs
    keys = sorted({(str(p.group_id), p.level) for p in pairs})
    chosen = set(random.Random(f"rm-hard:{seed}").sample(keys, max(1, limit // 2)))
    return [p for p in pairs if (str(p.group_id), p.level) in chosen]


def label_signal(hard: list[Pair], truth: list[int]) -> dict[str, float]:
    """The control that tells "no signal" from "not learned": on the hard twins of the soft pairs (same
    construction, but a verifier can judge them), how much more often o_k satisfies c_k than o_{k-1} does. The
    self-supervised label is right exactly as far as this gap goes; a gap near 0 means adding c_k to the prompt
    hardly changes the policy's answer on c_k, so no RM can learn c_k from its own pairs. Paired bootstrap 95 %."""
    from evals.bootstrap import bootstrap_paired_delta

    by_pair: dict[tuple[Any, int], dict[int, int]] = {}
    for pair, passed in zip(hard, truth, strict=True):
        by_pair.setdefault((pair.group_id, pair.level), {})[pair.label] = passed
    both = [sides for sides in by_pair.values() if len(sides) == 2]
    if not both:
        return {}
    with_c, without_c = [float(s[1]) for s in both], [float(s[0]) for s in both]
    gap = bootstrap_paired_delta(with_c, without_c, n_resamples=2000, seed=0)
    return {
        "rm/hard_twin_pairs": float(len(both)),
        "rm/hard_pass_with_c": sum(with_c) / len(both),
        "rm/hard_pass_without_c": sum(without_c) / len(both),
        "rm/label_signal": gap.value,
        "rm/label_signal_low": gap.low,
        "rm/label_signal_high": gap.high,
    }


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def save_reward_model(model: Any, tokenizer: Any, out: Path, config: RewardModelConfig, info: dict[str, Any]) -> Path:
    """Write the classifier (LoRA merged) + tokenizer + rm_info.json via a temp folder, then rename."""
    import shutil

    from lab.rm_scorer import RM_FORMAT, RM_INFO_FILE, RMTemplate

    if config.lora:
        model = model.merge_and_unload()
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    record = {"format": RM_FORMAT, "template": asdict(RMTemplate(max_length=config.max_length)), **info}
    (tmp / RM_INFO_FILE).write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def add_rm_info_metrics(out: Path, metrics: dict[str, float]) -> None:
    """Merge `metrics` into a saved reward model's rm_info.json (written whole to a temp file, then renamed)."""
    from lab.rm_scorer import RM_INFO_FILE

    path = out / RM_INFO_FILE
    record = json.loads(path.read_text(encoding="utf-8"))
    record["metrics"] = {**record.get("metrics", {}), **metrics}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    tmp.replace(path)


def run(config: RewardModelConfig, ctx: JobContext) -> dict[str, Any]:
    from lab.constraints.registry import get_type
    from lab.rm_scorer import RewardModelScorer, RMTemplate

    waits = [(config.dataset, "dataset"), (config.policy, "policy"), (config.init_from, "init_from")]
    if not refs.await_run_refs(waits, ctx.should_stop):
        return {"stopped": "before start"}
    dataset_path = refs.resolve_dataset(config.dataset)
    rows = refs.read_rows(dataset_path)
    check_rm_dataset(rows)
    groups = group_rows(rows)
    prompts = level_prompts(groups, config.max_groups, config.seed)
    # A fixed total from the start (the bar never goes backwards): one unit per response, the most training steps
    # the soft pairs can give (two pairs per soft c_k, all of them trained on), one unit for scoring.
    n_gen = len(prompts)
    span = steps_bound(groups, prompts, config.batch_size, config.epochs, lambda t: get_type(t).kind)
    controls = control_steps(config.control_pairs, config.batch_size, config.epochs) if config.control_pairs else 0
    total = n_gen + span + controls + 1
    ctx.progress(0, total, f"generating {len(prompts)} responses")
    responses = generate_responses(config, prompts, ctx, total)
    if responses is None:
        return {"stopped": "during generation", "responses": len(prompts)}
    pairs = build_pairs(groups, answers_only(responses), kind_of=lambda t: get_type(t).kind)
    soft = [p for p in pairs if p.kind == "soft"]
    hard = [p for p in pairs if p.kind == "hard"]
    if len(soft) < 4:
        raise LabError(
            f"only {len(soft)} usable soft pairs (responses identical or unclosed think); use more groups or tokens",
            field="dataset",
        )
    train, held_out = split_by_group(soft, config.held_out_fraction, config.seed)
    all_hard, hard = hard, sample_whole_pairs(hard, MAX_HARD_CHECK_PAIRS, config.seed)
    ctx.progress(n_gen, total, f"loading the classifier for {len(train)} training pairs")
    model, tokenizer = load_classifier(config)
    steps, stopped = train_classifier(model, tokenizer, train, config, ctx, n_gen, total, span)
    if stopped:
        return {"stopped": "during training", "steps": steps}
    ctx.progress(n_gen + span, total, "scoring held-out and hard pairs")
    scorer = RewardModelScorer(model, tokenizer, RMTemplate(max_length=config.max_length), batch_size=16)
    held_scores: list[float] = []
    metrics = evaluate_pairs(scorer, held_out, hard, held_scores)
    metrics.update({"rm/train_pairs": float(len(train)), "rm/soft_pairs": float(len(soft))})
    ctx.log_metrics(steps, metrics)
    if held_scores:
        ctx.log_samples(steps, pair_samples(held_out, held_scores))
    out = Path(ctx.work_dir) / "reward_models" / f"rm-job{ctx.job_id}"
    info = {
        "base": config.init_from, "policy": config.policy, "dataset": str(dataset_path), "lora": config.lora,
        "metrics": metrics, "config": asdict(config), "created_at": time.time(),
    }  # fmt: skip
    with ctx.doing(f"saving the reward model {out.name}"):
        save_reward_model(scorer.model, tokenizer, out, config, info)
    control: dict[str, float] | None = {}
    if config.control_pairs:  # after the save: a stop or crash in the controls cannot cost the trained RM
        del scorer, model
        gc.collect()
        control = run_controls(config, ctx, all_hard, verifier_verdict, n_gen + span, total)
        if control is not None:
            metrics.update(control)
            ctx.log_metrics(steps, control)
            add_rm_info_metrics(out, control)
    meta = {"type": "reward_model", "base": config.init_from, **{k.removeprefix("rm/"): v for k, v in metrics.items()}}
    checkpoint_id = ctx.register_checkpoint(steps, out, meta)
    if control is None:  # stopped in the controls: the reward model is kept (registered above), not its controls
        return {"stopped": "during the control classifiers", "checkpoint_id": checkpoint_id, "path": str(out)}
    verdict = rm_verdict(metrics)
    print(f"[reward_model] quality: {verdict.text}", flush=True)
    accuracy_text = f"held-out accuracy {metrics.get('rm/held_out_accuracy', float('nan')):.3f}"
    ctx.progress(total, total, f"{accuracy_text}; quality: {verdict.level}")  # what the Train tab shows at the end
    return {"checkpoint_id": checkpoint_id, "path": str(out), "quality": verdict.level, **meta}


register_kind(JobKind(name="reward_model", config_cls=RewardModelConfig, run=run, help=RewardModelConfig.__doc__ or ""))
