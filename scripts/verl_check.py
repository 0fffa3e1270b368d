"""Check a `python -m training export verl` folder with verl's own code; run with the verl venv's python.

`PYTHONPATH=. .venv-verl/bin/python scripts/verl_check.py OUT/` composes main_ppo's Hydra config with our
overrides, runs `validate_config`, loads train/val with `RLHFDataset`, loads the reward through the loader
main_ppo uses and scores a few rows through the reward manager. Prints one JSON summary; exits 1 on a failure.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import sys
import types
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import pyarrow.parquet as pq
import torch
import verl
import yaml
from hydra import compose, initialize_config_dir
from verl import DataProto
from verl.trainer.ppo.reward import get_custom_reward_fn, load_reward_manager
from verl.trainer.ppo.utils import create_rl_dataset, need_critic, need_reference_policy
from verl.utils import hf_tokenizer
from verl.utils.config import validate_config

CONFIG_DIR = Path(verl.__file__).parent / "trainer" / "config"


def compose_config(out: Path):
    """main_ppo's config (ppo_trainer.yaml) with the export's overrides, as Hydra builds it for main_ppo."""
    overrides = yaml.safe_load((out / "verl_grpo.yaml").read_text(encoding="utf-8"))["overrides"]
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        return compose(config_name="ppo_trainer", overrides=overrides)


def stand_in_for_vllm() -> str:
    """validate_config checks a LoRA rank through verl.workers.rollout.vllm_rollout.utils, whose module imports
    vLLM (GPU only). Without vLLM, register a module holding verl's own `get_vllm_max_lora_rank`, compiled from
    that file's source (it falls back to verl's list of ranks when vLLM is absent)."""
    if importlib.util.find_spec("vllm") is not None:
        return "installed"
    path = Path(verl.__file__).parent / "workers" / "rollout" / "vllm_rollout" / "utils.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    (function,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "get_vllm_max_lora_rank"]
    module = types.ModuleType("verl.workers.rollout.vllm_rollout.utils")
    module.__dict__.update({"Literal": Literal, "get_args": get_args})
    exec(compile(ast.Module(body=[function], type_ignores=[]), str(path), "exec"), module.__dict__)
    sys.modules[module.__name__] = module
    return "absent: validate_config's LoRA-rank check ran verl's get_vllm_max_lora_rank from its source"


def score_rows(config, tokenizer, dataset, rows: list[dict]) -> list[dict]:
    """Score each row's ground-truth-aware response through the configured reward manager (one item at a time,
    as the reward loop calls it)."""
    manager = load_reward_manager(config, tokenizer)
    results = []
    for index, response in rows:
        item = dataset[index]
        prompt = tokenizer.apply_chat_template(list(item["raw_prompt"]), add_generation_prompt=True, tokenize=True)
        prompt = prompt["input_ids"] if isinstance(prompt, dict) or hasattr(prompt, "keys") else prompt
        response_ids = tokenizer(response, add_special_tokens=False)["input_ids"]
        prompts = torch.tensor([prompt])
        responses = torch.tensor([response_ids])
        batch = DataProto.from_dict(
            tensors={
                "prompts": prompts,
                "responses": responses,
                "attention_mask": torch.ones(1, prompts.shape[1] + responses.shape[1], dtype=torch.long),
            },
            non_tensors={
                key: np.array([item[key]], dtype=object) for key in ("data_source", "reward_model", "extra_info")
            },
        )
        result = manager.loop.run_until_complete(manager.run_single(batch))
        results.append({"index": index, "data_source": item["data_source"], "response": response, **_plain(result)})
    return results


def _plain(result: dict) -> dict:
    info = result["reward_extra_info"]
    return {
        "score": float(result["reward_score"]),
        "keys": len(info),
        "math_correct": info.get("math_correct"),
        "n_constraints": info.get("n_constraints"),
        "soft_rm_mean": info.get("soft_rm_mean"),
    }


def check(out: Path) -> dict:
    config = compose_config(out)
    failures: list[str] = []
    vllm = stand_in_for_vllm()
    try:
        validate_config(config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config))
    except (AssertionError, ValueError) as error:
        failures.append(f"validate_config: {error}")
    if config.trainer.use_v1:
        try:
            import transfer_queue  # noqa: F401
        except ImportError:
            failures.append("trainer.use_v1 is on but transfer_queue (verl[verl-core]) is not installed")
    reward_fn = get_custom_reward_fn(config)
    raw = reward_fn.args[0] if reward_fn is not None else None  # partial(_call_with_kwargs, raw_fn, kwargs)
    ours = Path(config.reward.custom_reward_function.path or "").resolve()
    if raw is None or raw.__name__ != "compute_score" or Path(inspect.getfile(raw)).resolve() != ours:
        failures.append(f"main_ppo's reward loader did not load our compute_score (got {raw!r})")
    if config.get("custom_reward_function", {}).get("path"):
        failures.append("a top-level custom_reward_function.path is set: verl 0.9.1 ignores it")

    tokenizer = hf_tokenizer(config.actor_rollout_ref.model.path)
    train = create_rl_dataset(config.data.train_files, config.data, tokenizer, None, is_train=True)
    val = create_rl_dataset(config.data.val_files, config.data, tokenizer, None, is_train=False)
    train_rows = pq.read_table(config.data.train_files).num_rows
    if len(train) != train_rows:
        failures.append(f"RLHFDataset kept {len(train)} of {train_rows} training rows")

    # A correct and a wrong answer on the first math row; a plain answer on the first instruction row.
    sources = [train[i]["data_source"] for i in range(len(train))]
    picks: list[tuple[int, str]] = []
    if "iflab/math" in sources:
        i = sources.index("iflab/math")
        answer = train[i]["reward_model"]["ground_truth"]
        picks += [(i, f"The answer is \\boxed{{{answer}}}."), (i, "The answer is \\boxed{-12345}.")]
    if "iflab/curriculum" in sources:
        picks.append((sources.index("iflab/curriculum"), "here is a short answer in lowercase."))
    if config.reward.custom_reward_function.get("reward_kwargs", {}).get("rm_path"):
        # With a reward model: a row with a soft constraint, scored by the RM loaded inside verl's process.
        soft = [i for i in range(len(train)) if '"soft:' in str(train[i]["reward_model"]["ground_truth"])]
        picks += [(soft[0], "What a lovely, warm day it is!")] if soft else []
    scored = score_rows(config, tokenizer, train, picks) if not failures else []  # verl's default scorer raises
    math = [s for s in scored if s["data_source"] == "iflab/math"]
    if math and [s["score"] for s in math] != [1.0, 0.0]:
        failures.append(f"math rows scored {[s['score'] for s in math]}, expected [1.0, 0.0]")
    if any(not 0.0 <= s["score"] <= 1.0 for s in scored):
        failures.append("a reward outside [0, 1]")
    return {
        "verl": verl.__version__,
        "validate_config": "failed" if any(f.startswith("validate_config") for f in failures) else "passed",
        "vllm": vllm,
        "use_v1": bool(config.trainer.use_v1),
        "reward_function": f"{config.reward.custom_reward_function.path}:{config.reward.custom_reward_function.name}",
        "reward_kwargs": dict(config.reward.custom_reward_function.get("reward_kwargs", {})),
        "train_rows": len(train),
        "val_rows": len(val),
        "val_files": str(config.data.val_files),
        "scored": scored,
        "failures": failures,
    }


def main(argv: list[str]) -> int:
    summary = check(Path(argv[0]).resolve())
    print(json.dumps(summary, indent=2, default=str))
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
