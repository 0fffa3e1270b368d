"""Menu choices the screens share: models to generate with, reward models, checkpoints to compare."""

from __future__ import annotations

from pathlib import Path

from lab.bundled_model import BUNDLED_NAME
from lab.models import DEFAULT_MODEL_SPEC
from lab.paths import models_dir

POLICY_KINDS = frozenset({"grpo"})  # runs whose checkpoints are language models (RM checkpoints are classifiers)
RM_KIND = "reward_model"


def _stored_checkpoints() -> list:
    from storage.checkpoints import checkpoint_infos

    return checkpoint_infos()


def checkpoint_label(run_name: str, step: int, checkpoint_id: int) -> str:
    return f"{run_name} @ step {step} (checkpoint {checkpoint_id})"


def model_folders() -> list[str]:
    """Checkpoint folders under $LAB_HOME/models (besides the bundled model's converted copy)."""
    found = []
    for folder in sorted(models_dir().iterdir()):
        if folder.name == BUNDLED_NAME or folder.name.startswith("."):
            continue
        if (folder / "config.json").is_file() or (folder / "adapter_config.json").is_file():
            found.append(str(folder))
    return found


def generation_models() -> list[tuple[str, str]]:
    """(label, model spec) for generating: the bundled model, trained policy checkpoints, folders in models/."""
    choices = [(f"{DEFAULT_MODEL_SPEC} (built in)", DEFAULT_MODEL_SPEC)]
    for info in reversed(_stored_checkpoints()):  # newest run first
        if info.run_kind in POLICY_KINDS and Path(info.path).exists():
            choices.append((checkpoint_label(info.run_name, info.step, info.id), info.path))
    choices += [(folder, folder) for folder in model_folders()]
    return choices


def reward_models() -> list[tuple[str, str]]:
    """(label, folder) of trained reward-model checkpoints, after the "none" choice (hard constraints only)."""
    choices = [("none: score hard constraints only", "")]
    for info in reversed(_stored_checkpoints()):
        if info.run_kind == RM_KIND and Path(info.path).exists():
            choices.append((checkpoint_label(info.run_name, info.step, info.id), info.path))
    return choices


def compare_targets() -> list[tuple[str, str]]:
    """(label, ref) for Compare: the bundled base model and every policy checkpoint (refs as evaluate takes them)."""
    choices = [("bundled: SmolLM2-135M-Instruct (base)", "bundled")]
    for info in reversed(_stored_checkpoints()):
        if info.run_kind in POLICY_KINDS and Path(info.path).exists():
            choices.append((checkpoint_label(info.run_name, info.step, info.id), str(info.id)))
    return choices
