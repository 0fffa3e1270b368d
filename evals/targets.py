"""What an evaluation is of, and its cache keys: a model reference -> EvalTarget (spec, label, stored checkpoint),
and content hashes of weights, suite and settings, so "same pair, same settings" is recognised across runs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.errors import LabError

METRICS_VERSION = 3  # bump when compute_metrics changes meaning, so old cached results are not reused (3: families)
CHECKPOINT_PREFIX = "checkpoint:"


@dataclass(frozen=True)
class EvalTarget:
    """One model to evaluate. `model` is what evaluations.model stores (a folder or a spec)."""

    ref: str
    spec: str
    model: str
    label: str
    kind: str  # bundled | local | adapter | hub
    checkpoint_id: int | None = None
    run_id: int | None = None
    step: int | None = None

    def identity(self) -> dict[str, Any]:
        """What the weights are: the folder's file list (name, size, mtime), so a rewritten folder is new."""
        from lab.models import DEFAULT_MODEL_SPEC, resolve_model_spec

        source = resolve_model_spec(self.spec)

        def of(src: Any) -> dict[str, Any]:
            if src.kind == "bundled":
                return {"kind": "bundled", "spec": DEFAULT_MODEL_SPEC}
            if src.kind == "hub":
                return {"kind": "hub", "id": src.location}
            out = {"kind": src.kind, "path": src.location, "files": folder_digest(Path(src.location))}
            if src.base is not None:
                out["base"] = of(src.base)
            return out

        return of(source)

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "label": self.label,
            "model_kind": self.kind,
            "checkpoint_id": self.checkpoint_id,
            "checkpoint_run_id": self.run_id,
            "step": self.step,
        }


def folder_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            stat = path.stat()
            digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:16]


def _hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:24]


def expand_refs(refs: list[str]) -> list[str]:
    """'run:5' stands for every stored checkpoint of run 5 (by step); other refs pass through, duplicates dropped."""
    from storage.refs import MALFORMED_RUN_REF, RUN_PREFIX, run_ref

    out: list[str] = []
    for ref in refs:
        text = str(ref).strip()
        run_id = run_ref(text)
        if run_id == MALFORMED_RUN_REF:
            raise LabError(f"{text!r}: a run reference is '{RUN_PREFIX}<id>'", field="checkpoints")
        if run_id is not None:
            from storage.checkpoints import checkpoint_infos

            infos = checkpoint_infos(run_id=run_id)
            if not infos:
                raise LabError(f"run {run_id} has no stored checkpoints", field="checkpoints")
            out.extend(str(info.id) for info in infos)
        else:
            out.append(text)
    return list(dict.fromkeys(out))


def resolve_target(ref: str) -> EvalTarget:
    """A stored checkpoint id ('12' or 'checkpoint:12'), a checkpoint folder, 'bundled' or a hub id."""
    from lab.models import DEFAULT_MODEL_SPEC, resolve_model_spec

    text = str(ref or "").strip()
    number = text.removeprefix(CHECKPOINT_PREFIX)
    if number.isdigit():
        return _stored(text, int(number))
    try:
        source = resolve_model_spec(text)
    except LabError as error:
        raise LabError(f"{text!r}: {str(error).removeprefix('model: ')}", field="checkpoints") from None
    if source.kind == "bundled":
        name = DEFAULT_MODEL_SPEC.split(":", 1)[1]
        return EvalTarget(text, DEFAULT_MODEL_SPEC, DEFAULT_MODEL_SPEC, f"base · {name}", "bundled")
    if source.kind == "hub":
        return EvalTarget(text, source.location, source.location, source.location, "hub")
    stored = _stored_by_path(source.location)
    if stored is not None:
        return _stored(text, stored)
    folder = Path(source.location)
    return EvalTarget(text, source.location, source.location, folder.name, source.kind)


def _stored(ref: str, checkpoint_id: int) -> EvalTarget:
    from lab.models import resolve_model_spec
    from storage.checkpoints import checkpoint_infos

    infos = checkpoint_infos(ids=[checkpoint_id])
    if not infos:
        raise LabError(f"no stored checkpoint with id {checkpoint_id}", field="checkpoints")
    info = infos[0]
    if not Path(info.path).is_dir():
        raise LabError(f"checkpoint {checkpoint_id}'s folder {info.path} no longer exists", field="checkpoints")
    try:
        source = resolve_model_spec(info.path)
    except LabError as error:
        raise LabError(
            f"checkpoint {checkpoint_id}: {str(error).removeprefix('model: ')}", field="checkpoints"
        ) from None
    label = f"{info.run_name} @ step {info.step}"
    return EvalTarget(ref, source.location, source.location, label, source.kind, info.id, info.run_id, info.step)


def _stored_by_path(location: str) -> int | None:
    from storage.checkpoints import checkpoint_id_for_path

    return checkpoint_id_for_path(location)


def is_registered_checkpoint(folder: Path) -> bool:
    """Whether storage knows `folder` (resolved) as a checkpoint a run wrote: a model a read-only demo may load."""
    return _stored_by_path(str(Path(folder).resolve())) is not None


def generation_key(target: EvalTarget, suite: Any, max_new_tokens: int, backend: str) -> str:
    """Same weights, same prompts, same greedy settings and backend -> the same responses (the seed is moot)."""
    return _hash(
        {
            "model": target.identity(),
            "suite": suite.fingerprint,
            "max_new_tokens": int(max_new_tokens),
            "decoding": "greedy",
            "backend": backend,
        }
    )


def scorer_key(reward_model: str | None) -> dict[str, Any] | None:
    """What scores soft constraints; a bad reference is refused here (config validation calls this)."""
    if not reward_model:
        return None
    from lab.rm_scorer import read_rm_info
    from storage.refs import resolve_checkpoint

    folder = resolve_checkpoint(reward_model, "reward_model")
    read_rm_info(folder)
    return {"path": str(folder.resolve()), "files": folder_digest(folder)}


def suite_cache_key(gen_key: str, reward_model: str | None, resamples: int, seed: int, suite: Any = None) -> str:
    """The result cache key; `suite` adds its stored name and domain, so 'ood:FILE' and 'FILE' (same prompts, same
    generations) are stored as two evaluations that Compare finds under their own names."""
    return _hash(
        {
            "generation": gen_key,
            "suite": None if suite is None else [suite.name, suite.domain],
            "scorer": scorer_key(reward_model),
            "resamples": int(resamples),
            "seed": int(seed),
            "metrics_version": METRICS_VERSION,
        }
    )
