"""Export a dataset and a GRPO config for scale-out: verl (parquet + lab/verl_reward.py:compute_score + a run
script) or TRL (JSONL + `trl grpo`/`accelerate launch` YAML + a reward module).

`python -m training export verl --dataset ID OUT/ [--grpo FILE.yaml | --preset NAME] [--reward-model ID]`
`python -m training export trl --dataset ID OUT/ ...` (same options).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from lab.errors import LabError
from training import refs
from training.grpo_job import GRPOJobConfig, rewardable
from training.grpo_trl import GPU_MACHINE, lora_kwargs, model_config_lora_kwargs, trl_kwargs

REPO_ROOT = Path(__file__).resolve().parent.parent
VERL_REWARD = REPO_ROOT / "lab" / "verl_reward.py"
# TRL loss_type -> verl's loss aggregation (Dr. GRPO: sequence sums over a constant length, no length bias).
VERL_LOSS_AGG = {"dapo": "token-mean", "dr_grpo": "seq-mean-token-sum-norm"}
VERL_VERSION = "0.9.1"  # the release the overrides are written for and checked against (scripts/verl_check.sh)


def _model_path(spec: str) -> str:
    """What an external trainer can load: a folder path (the bundled model's converted folder) or a hub id."""
    from lab.models import ensure_bundled_checkpoint, resolve_model_spec

    source = resolve_model_spec(refs.resolve_model(spec))
    if source.kind == "bundled":
        ensure_bundled_checkpoint()
    if source.kind == "adapter":
        raise LabError("external trainers need a full checkpoint, not a LoRA adapter; merge it first", field="model")
    return source.location


def check_exportable_reward(config: GRPOJobConfig) -> None:
    """The exported reward functions carry the paper's reward only; refuse the ablation settings by name."""
    if config.soft_reward != "probability":
        raise LabError("an export carries only the probability soft reward (the paper's); got binary", "soft_reward")
    if not config.rule_rewards:
        raise LabError("an export carries only the reward with rule rewards (the paper's); got false", "rule_rewards")


def _rm_path(ref: str) -> str | None:
    return str(refs.resolve_checkpoint(ref, "reward_model").resolve()) if ref.strip() else None


def split_rows(rows: list[dict[str, Any]], val_fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """A seeded train/validation split by curriculum group (levels of one task stay together)."""
    groups = sorted({str(r.get("group_id")) for r in rows})
    random.Random(f"export:{seed}").shuffle(groups)
    n_val = int(round(len(groups) * val_fraction))
    if val_fraction > 0 and len(groups) >= 2:
        n_val = min(max(n_val, 1), len(groups) - 1)  # a requested split holds out a group but never all of them
    val_groups = set(groups[:n_val])
    return [r for r in rows if str(r.get("group_id")) not in val_groups], [
        r for r in rows if str(r.get("group_id")) in val_groups
    ]


def verl_row(row: Mapping[str, Any], index: int, split: str) -> dict[str, Any]:
    """verl's RL row: chat prompt, data_source, ability, reward_model.ground_truth (JSON), extra_info."""
    math = row.get("source") == "math"
    if not math:
        truth = json.dumps(
            {
                "instruction_id_list": list(row.get("instruction_id_list") or []),
                "kwargs": list(row.get("kwargs") or []),
                "constraints": list(row.get("constraints") or []),
            },
            sort_keys=True,
        )
    elif row.get("answer_match"):  # checked some other way than by its boxed answer: say how
        truth = json.dumps({"answer": str(row["answer"]), "answer_match": row["answer_match"]}, sort_keys=True)
    else:
        truth = str(row["answer"])
    return {
        "data_source": "iflab/math" if math else "iflab/curriculum",
        "prompt": [{"role": "user", "content": row["prompt"]}],
        "ability": "math" if math else "instruction_following",
        "reward_model": {"style": "rule", "ground_truth": truth},
        "extra_info": {
            "split": split,
            "index": index,
            "level": int(row.get("level") or 0),
            "group_id": str(row.get("group_id") or ""),
            "source": str(row.get("source") or ""),
        },
    }


def _write_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)


def verl_overrides(
    config: GRPOJobConfig, model_path: str, out: Path, rm_path: str | None, has_val: bool = True
) -> list[str]:
    """Hydra overrides for verl 0.9.1's `python3 -m verl.trainer.main_ppo` that mirror the grpo job's settings
    (checked against verl's own config, dataset, reward loader and reward manager by scripts/verl_check.sh)."""
    # verl counts micro-batches in responses per GPU; one optimizer step = all prompts_per_step prompts.
    micro = config.micro_batch_size or config.prompts_per_step * config.group_size // config.num_processes
    lines = [
        "algorithm.adv_estimator=grpo",
        f"data.train_files={out / 'train.parquet'}",
        f"data.val_files={out / ('val.parquet' if has_val else 'train.parquet')}",
        "data.prompt_key=prompt",
        f"data.train_batch_size={config.prompts_per_step}",
        "data.max_prompt_length=1024",
        f"data.max_response_length={config.max_completion_length}",
        "data.filter_overlong_prompts=True",
        f"actor_rollout_ref.model.path={model_path}",
        f"actor_rollout_ref.actor.optim.lr={config.learning_rate}",
        f"actor_rollout_ref.actor.optim.weight_decay={config.weight_decay}",
        f"actor_rollout_ref.actor.grad_clip={config.max_grad_norm}",
        f"actor_rollout_ref.actor.clip_ratio={config.epsilon}",
        f"actor_rollout_ref.actor.ppo_mini_batch_size={config.prompts_per_step}",
        f"actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu={micro}",
        f"actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu={micro}",
        f"actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu={micro}",
        f"actor_rollout_ref.actor.use_kl_loss={config.beta > 0}",
        f"actor_rollout_ref.actor.kl_loss_coef={config.beta}",
        f"actor_rollout_ref.actor.loss_agg_mode={VERL_LOSS_AGG.get(config.loss_type, 'seq-mean-token-mean')}",
        "actor_rollout_ref.rollout.name=vllm",
        f"actor_rollout_ref.rollout.n={config.group_size}",
        f"actor_rollout_ref.rollout.temperature={config.temperature}",
        f"actor_rollout_ref.rollout.top_p={config.top_p}",
        "algorithm.use_kl_in_reward=False",
        # verl 0.9.1's main_ppo reads only reward.custom_reward_function (a top-level one is silently ignored).
        f"reward.custom_reward_function.path={VERL_REWARD}",
        "reward.custom_reward_function.name=compute_score",
        f"+reward.custom_reward_function.reward_kwargs.hard_mode={config.hard_mode}",
        f"trainer.total_training_steps={config.steps}",
        f"trainer.save_freq={config.save_every}",
        # Validation every save when there is a held-out split; none (not a copy of a training row) otherwise.
        f"trainer.test_freq={config.save_every if has_val else -1}",
        f"trainer.val_before_train={has_val}",
        # The v1 trainer imports transfer_queue, which only the verl[verl-core] extra installs.
        "trainer.use_v1=False",
        f"trainer.n_gpus_per_node={config.num_processes}",
        "trainer.nnodes=1",
        f"trainer.logger=[{','.join(['console'] + ([config.report_to] if config.report_to != 'none' else []))}]",
        "trainer.project_name=iflab",
        f"data.seed={config.seed}",
    ]
    if config.lora:
        lora = lora_kwargs(config)  # the job's LoraConfig, in verl's spelling
        lines += [
            f"actor_rollout_ref.model.lora_rank={lora['r']}",
            f"actor_rollout_ref.model.lora_alpha={lora['lora_alpha']}",
            f"actor_rollout_ref.model.target_modules={lora['target_modules']}",
        ]
    if rm_path:
        lines.append(f"+reward.custom_reward_function.reward_kwargs.rm_path={rm_path}")
    return lines


def export_verl(rows: list[dict[str, Any]], config: GRPOJobConfig, out: Path, val_fraction: float) -> dict[str, Any]:
    """OUT/train.parquet, OUT/val.parquet (held-out task groups; none with val_fraction 0), OUT/verl_grpo.yaml
    (overrides) and OUT/run_verl.sh."""
    import yaml

    if not 0 <= val_fraction < 1:
        raise LabError(f"must be in [0, 1), got {val_fraction}", field="val_fraction")
    check_exportable_reward(config)
    rm_path = _rm_path(config.reward_model)
    rows = [r for r in rows if rewardable(r, soft_scored=rm_path is not None)]
    train, val = split_rows(rows, val_fraction, config.seed)
    out.mkdir(parents=True, exist_ok=True)
    if not train:
        raise LabError("no training rows are left after the validation split; lower --val-fraction", "val_fraction")
    (out / "val.parquet").unlink(missing_ok=True)  # a re-export without a split must not leave an old one
    _write_parquet(out / "train.parquet", [verl_row(r, i, "train") for i, r in enumerate(train)])
    if val:
        _write_parquet(out / "val.parquet", [verl_row(r, i, "val") for i, r in enumerate(val)])
    overrides = verl_overrides(config, _model_path(config.model), out.resolve(), rm_path, has_val=bool(val))
    (out / "verl_grpo.yaml").write_text(
        f"# Hydra overrides for verl {VERL_VERSION}'s GRPO trainer (main_ppo), mirroring an IF-Lab grpo job.\n"
        + yaml.safe_dump({"overrides": overrides}, sort_keys=False, width=200),
        encoding="utf-8",
    )
    script = "\n".join(
        [
            "#!/usr/bin/env bash",
            f"# verl {VERL_VERSION} GRPO with IF-Lab's data and reward. lab/verl_reward.py imports `lab` (hence",
            "# PYTHONPATH) and needs, beside verl: pip install -r requirements-verl.txt (from the IF-Lab checkout).",
            "set -euo pipefail",
            f'export PYTHONPATH="{REPO_ROOT}:${{PYTHONPATH:-}}"',
            "python3 -m verl.trainer.main_ppo \\",
            *[f"    '{line}' \\" for line in overrides],
            '    "$@"',
            "",
        ]
    )
    (out / "run_verl.sh").write_text(script, encoding="utf-8")
    (out / "run_verl.sh").chmod(0o755)
    return {
        "train_rows": len(train), "val_rows": len(val), "val_files": "val.parquet" if val else "none",
        "compute_score": f"{VERL_REWARD}:compute_score",
        "config": str(out / "verl_grpo.yaml"), "script": str(out / "run_verl.sh"),
    }  # fmt: skip


TRL_REWARD_MODULE = '''"""IF-Lab's constraint reward for `trl grpo` (written by `python -m training export trl`).

Mean over constraints (hard verifier 0/1, soft = reward-model probability), math exact match, 0 for an unclosed
think block. Set IFLAB_RM_PATH to use another reward model ("" = hard constraints only).
"""

import os
import sys

sys.path.insert(0, {repo!r})

from lab.rm_scorer import load_rm_scorer  # noqa: E402
from lab.trl_reward import make_trl_reward  # noqa: E402

_RM_PATH = os.environ.get("IFLAB_RM_PATH", {rm!r})
constraint_reward = make_trl_reward(
    soft_scorer=load_rm_scorer(_RM_PATH) if _RM_PATH else None, hard_mode={hard_mode!r}, name="constraint_reward"
)
'''


def trl_yaml(config: GRPOJobConfig, model_path: str, data_dir: Path) -> dict[str, Any]:
    """`trl grpo --config` keys: the grpo job's own GRPOConfig and LoRA arguments (training/grpo_trl.py) for the
    GPU machine the YAML is written for, plus ModelConfig and script args."""
    return {
        "model_name_or_path": model_path,
        "dataset_name": str(data_dir),
        "reward_funcs": ["iflab_reward.constraint_reward"],
        # Where the run lives: the job's is its run folder; outside the app, a folder beside this YAML.
        "output_dir": "iflab-grpo",
        **trl_kwargs(config, GPU_MACHINE),
        # The app logs progress to storage; a run in a terminal shows TRL's progress bar instead.
        "disable_tqdm": False,
        **model_config_lora_kwargs(config),
    }


def export_trl(rows: list[dict[str, Any]], config: GRPOJobConfig, out: Path) -> dict[str, Any]:
    """OUT/data/train.jsonl, OUT/iflab_reward.py and OUT/trl_grpo.yaml (run from OUT; see the YAML header)."""
    import yaml

    from training.grpo_job import training_rows

    check_exportable_reward(config)
    rm_path = _rm_path(config.reward_model)
    columns = training_rows(rows, chat=True, soft_scored=rm_path is not None)
    n = len(columns["prompt"])
    data_dir = (out / "data").resolve()
    refs.write_rows(data_dir / "train.jsonl", ({k: v[i] for k, v in columns.items()} for i in range(n)))
    (out / "iflab_reward.py").write_text(
        TRL_REWARD_MODULE.format(repo=str(REPO_ROOT), rm=rm_path or "", hard_mode=config.hard_mode), encoding="utf-8"
    )
    header = (
        "# TRL GRPO run mirroring an IF-Lab grpo job. From this folder:\n"
        f"#   accelerate launch --num_processes {config.num_processes} -m trl.scripts.grpo --config trl_grpo.yaml\n"
        "# (or `trl grpo --config trl_grpo.yaml`). On CPU add `--use_cpu true --bf16 false --use_vllm false`.\n"
    )
    values = trl_yaml(config, _model_path(config.model), data_dir)
    (out / "trl_grpo.yaml").write_text(header + yaml.safe_dump(values, sort_keys=False), encoding="utf-8")
    return {"train_rows": n, "config": str(out / "trl_grpo.yaml"), "reward": str(out / "iflab_reward.py")}


def _grpo_config(args: argparse.Namespace) -> GRPOJobConfig:
    """The grpo settings to mirror: a stored run, a preset's grpo section, a YAML file, or the defaults."""
    import yaml

    from training.registry import parse_config

    values: dict[str, Any] = {}
    if args.run is not None:
        from storage.runs import get_run

        run = get_run(args.run)
        if run.kind != "grpo":
            raise LabError(f"run {args.run} is a {run.kind} run, not grpo", field="run")
        values = dict(run.config)
    elif args.preset:
        from training.pipeline import load_preset

        values = load_preset(args.preset).config("grpo")
    elif args.grpo:
        loaded = yaml.safe_load(Path(args.grpo).read_text(encoding="utf-8")) or {}
        values = dict(loaded.get("grpo", loaded))
    values["dataset"] = args.dataset
    if args.reward_model is not None:
        values["reward_model"] = args.reward_model
    if args.model is not None:
        values["model"] = args.model
    return parse_config(GRPOJobConfig, values)


def main_export(argv: Sequence[str] | None = None) -> int:
    """CLI entry: `python -m training export {verl,trl} --dataset ID OUT/ [options]`; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m training export", description=__doc__)
    parser.add_argument("target", choices=["verl", "trl"])
    parser.add_argument("out", help="output folder (created)")
    parser.add_argument("--dataset", required=True, help="dataset id, 'run:<id>' or a .jsonl/.parquet file")
    parser.add_argument("--reward-model", help="RM checkpoint id or folder (default: the grpo config's; '' = none)")
    parser.add_argument("--model", help="policy spec (default: the grpo config's)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--run", type=int, help="mirror the config of this stored grpo run")
    source.add_argument("--preset", help="mirror this preset's grpo section")
    source.add_argument("--grpo", help="mirror a grpo config YAML (flat, or with a grpo: section)")
    parser.add_argument(
        "--val-fraction", type=float, default=0.05, help="verl: share of groups held out (at least one; 0 = none)"
    )
    args = parser.parse_args(argv)
    try:
        config = _grpo_config(args)
        rows = refs.read_rows(refs.resolve_dataset(config.dataset))
        out = Path(args.out).expanduser()
        result = (
            export_verl(rows, config, out, args.val_fraction)
            if args.target == "verl"
            else export_trl(rows, config, out)
        )
    except LabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps({"target": args.target, **result, "grpo": asdict(config)}, indent=2))
    return 0
