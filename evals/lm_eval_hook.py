"""Official benchmark hook: EleutherAI lm-eval's `ifeval` task on a checkpoint, when lm-eval and the data exist.

Data: a local IFEval-format .jsonl (config `ifeval_data` or $IFLAB_IFEVAL_DATA), else the hub's google/IFEval
(cached or online). Anything missing makes `official_ifeval_status` say why, and the evaluate job skips the suite.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from lab.errors import LabError

SUITE_NAME = "lm-eval-ifeval"
HUB_DATASET = "google/IFEval"
DATA_ENV = "IFLAB_IFEVAL_DATA"
INSTALL_HINT = "pip install 'lm-eval[ifeval]==0.4.13'"
# lm-eval's key -> ours (the same names as our own IFEval metrics).
METRIC_NAMES = {
    "prompt_level_strict_acc": "prompt_strict",
    "prompt_level_loose_acc": "prompt_loose",
    "inst_level_strict_acc": "instruction_strict",
    "inst_level_loose_acc": "instruction_loose",
}


@dataclass(frozen=True)
class OfficialStatus:
    """Whether the hook can run; `reason` says what is missing when it cannot."""

    available: bool
    reason: str
    data: str | None = None  # the local file, or the hub dataset id


@dataclass(frozen=True)
class OfficialResult:
    metrics: dict[str, float]  # prompt_strict, prompt_loose, instruction_strict, instruction_loose
    n_prompts: int
    data: str
    lm_eval_version: str


def _lm_eval_problem() -> str | None:
    try:
        version("lm_eval")
    except PackageNotFoundError:
        return f"lm-eval is not installed ({INSTALL_HINT})"
    try:
        import lm_eval.evaluator  # noqa: F401  (its full dependency set, not just the package)
    except ImportError as error:
        return f"lm-eval is installed without its dependencies ({error}); {INSTALL_HINT}"
    return None


def _hub_dataset_reachable() -> bool:
    from huggingface_hub import snapshot_download

    try:
        snapshot_download(HUB_DATASET, repo_type="dataset", local_files_only=True)
        return True
    except Exception:  # not cached; the exception type differs between huggingface_hub versions
        pass
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"} or os.environ.get(
        "HF_DATASETS_OFFLINE", ""
    ).lower() in {"1", "true", "yes"}:
        return False
    from huggingface_hub import HfApi

    try:
        HfApi().dataset_info(HUB_DATASET, timeout=5.0)
        return True
    except Exception:  # unreachable network or gated: either way, not usable from here
        return False


def official_ifeval_status(data: str | None = None) -> OfficialStatus:
    """Can lm-eval's ifeval run here, and on which data? Never raises for a missing package or network."""
    problem = _lm_eval_problem()
    if problem:
        return OfficialStatus(False, problem)
    local = data or os.environ.get(DATA_ENV)
    if local:
        path = Path(local).expanduser()
        if not path.is_file():
            return OfficialStatus(False, f"IFEval data file {local!r} does not exist")
        return OfficialStatus(True, "local IFEval file", str(path.resolve()))
    if _hub_dataset_reachable():
        return OfficialStatus(True, "hub dataset", HUB_DATASET)
    return OfficialStatus(
        False, f"no IFEval data: set ifeval_data (or ${DATA_ENV}) to a local copy of {HUB_DATASET}'s jsonl"
    )


def official_cache_key(model_identity: dict, data: str, limit: int | None, max_new_tokens: int) -> str:
    """Same weights, same IFEval data file (by content), same limit and length cap -> the same four numbers."""
    import hashlib
    import json

    data_id = data
    path = Path(data)
    if path.is_file():
        data_id = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    key = {
        "official": SUITE_NAME,
        "model": model_identity,
        "data": data_id,
        "limit": limit,
        "max_new_tokens": int(max_new_tokens),
        "lm_eval": version("lm_eval"),
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]


def _model_args(model_spec: str) -> str:
    from lab.models import ensure_bundled_checkpoint, resolve_model_spec

    source = resolve_model_spec(model_spec)
    if source.kind == "bundled" or (source.kind == "adapter" and source.base and source.base.kind == "bundled"):
        ensure_bundled_checkpoint()
    if source.kind == "adapter":
        assert source.base is not None
        return f"pretrained={source.base.location},peft={source.location}"
    return f"pretrained={source.location}"


def _task_folder(data_file: str, folder: Path) -> str:
    """A task `ifeval_local`: lm-eval's own ifeval.yaml (prompts, scoring, metrics), data from our file."""
    import importlib.util

    spec = importlib.util.find_spec("lm_eval")
    assert spec is not None and spec.origin is not None
    official = Path(spec.origin).parent / "tasks" / "ifeval" / "ifeval.yaml"
    (folder / "ifeval_local.yaml").write_text(
        f"include: {official}\ntask: ifeval_local\ndataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    train: {data_file}\n"
    )
    return "ifeval_local"


def run_official_ifeval(
    model_spec: str,
    data: str | None = None,
    *,
    limit: int | None = None,
    max_new_tokens: int = 1280,
    batch_size: int = 8,
) -> OfficialResult:
    """Run lm-eval's ifeval (greedy, chat template) on a model spec; LabError if the hook is unavailable."""
    status = official_ifeval_status(data)
    if not status.available or status.data is None:
        raise LabError(f"lm-eval ifeval cannot run here: {status.reason}", field="suites")
    # lm-eval's IFEval checker looks for NLTK punkt_tab and downloads it when missing; ship ours instead.
    import nltk

    nltk_data = Path(__file__).resolve().parents[1] / "lab" / "data" / "nltk_data"
    if str(nltk_data) not in nltk.data.path:
        nltk.data.path.insert(0, str(nltk_data))
    import lm_eval
    import torch
    from lm_eval.tasks import TaskManager

    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = "bfloat16" if device == "cuda" else "float32"
    with tempfile.TemporaryDirectory(prefix="iflab_lmeval_") as folder:
        if status.data == HUB_DATASET:
            task, manager = "ifeval", TaskManager()
        else:
            task = _task_folder(status.data, Path(folder))
            manager = TaskManager(include_path=folder)
        output = lm_eval.simple_evaluate(
            model="hf",
            model_args=f"{_model_args(model_spec)},dtype={dtype}",
            tasks=[task],
            task_manager=manager,
            limit=limit,
            gen_kwargs=f"max_gen_toks={int(max_new_tokens)}",
            batch_size=batch_size,
            device=device,
            apply_chat_template=True,
            log_samples=False,
        )
    results = output["results"][task]
    metrics = {ours: float(results[f"{theirs},none"]) for theirs, ours in METRIC_NAMES.items()}
    n = int(output.get("n-samples", {}).get(task, {}).get("effective", results.get("sample_len", 0)) or 0)
    return OfficialResult(metrics=metrics, n_prompts=n, data=status.data, lm_eval_version=version("lm_eval"))
