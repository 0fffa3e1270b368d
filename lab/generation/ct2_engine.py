"""The CTranslate2 engine: a transformers model converted to CTranslate2 and run on its CPU kernels.

A checkpoint is converted once into $LAB_HOME/models/ctranslate2/ (keyed by its folder, file sizes and mtimes;
written to a temp folder and renamed, so a folder there is always complete). A live policy (GRPO) is converted
from memory, LoRA deltas merged, with `reload_from`. The vocabulary is written as the token ids themselves
("0", "1", ...), so prompts go in and completions come out as exactly the ids the tokenizer uses.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import math
import os
import shutil
import tempfile
import threading
import time
import types
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from lab.generation.engine import Completion, Sampling, StopCheck, check_stop, end_token_ids

COMPUTE_ENV = "LAB_GENERATION_COMPUTE_TYPE"
_SEED_LOCK = threading.Lock()
# float32 gives transformers' greedy tokens; int8 is faster but changes greedy outputs on most prompts (measured).
DEFAULT_COMPUTE = "float32"
CACHE_SUBDIR = "ctranslate2"
_MODEL_FILES = ("config.json", "model.bin")

log = logging.getLogger(__name__)


def compute_type() -> str:
    return (os.environ.get(COMPUTE_ENV) or DEFAULT_COMPUTE).strip()


class CTranslate2Engine:
    name = "ctranslate2"

    def __init__(self, folder: Path, end_ids: Sequence[int], compute: str, owned: bool = False) -> None:
        self.end_ids = [int(i) for i in end_ids]
        self.compute = compute
        self.folder = folder
        self._lock = threading.Lock()
        self._greedy: Any = None  # opened on first use
        self._samplers: list[Any] | None = None  # when set: their random state is not used yet
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(folder), True) if owned else None
        self._lora_buffers: dict[str, Any] = {}

    @classmethod
    def for_loaded(cls, loaded: Any) -> CTranslate2Engine:
        """The engine of a lab.models.LoadedModel, converting it into the cache first when needed."""
        compute = compute_type()
        end_ids = end_token_ids(loaded.model, loaded.tokenizer)
        try:
            folder = _cache_folder(loaded, compute)
            if not _complete(folder):
                started = time.monotonic()
                _convert_atomically(folder, loaded.model, loaded.tokenizer, compute)
                log.info("generation: converted %s for CTranslate2 in %.1f s", loaded.path, time.monotonic() - started)
            return cls(folder, end_ids, compute)
        except OSError as error:  # a read-only $LAB_HOME: convert into a private temp folder instead
            log.warning("generation: cannot cache the CTranslate2 model (%s); converting into a temp folder", error)
            return cls.from_model(loaded.model, loaded.tokenizer, end_ids, compute)

    @classmethod
    def from_model(
        cls, model: Any, tokenizer: Any, end_ids: Sequence[int] | None = None, compute: str | None = None
    ) -> CTranslate2Engine:
        """An engine for a model in memory (e.g. a training policy), in a temp folder that goes with the engine."""
        compute = compute or compute_type()
        buffers: dict[str, Any] = {}
        folder = _write_scratch(model, tokenizer, compute, buffers)
        engine = cls(folder, end_ids or end_token_ids(model, tokenizer), compute, owned=True)
        engine._lora_buffers = buffers
        engine._samplers = _open_samplers(folder, compute)  # a policy is sampled from (GRPO)
        return engine

    def reload_from(self, model: Any, tokenizer: Any) -> float:
        """Replace the weights with the model's current ones (LoRA merged); returns the seconds it took."""
        started = time.monotonic()
        folder = _write_scratch(model, tokenizer, self.compute, self._lora_buffers)
        old_cleanup = self._cleanup
        with self._lock:
            self._greedy = self._samplers = None  # free the old weights before the new ones load
            self._samplers = _open_samplers(folder, self.compute)
            self.folder = folder
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(folder), True)
        if old_cleanup is not None:
            old_cleanup()
        return time.monotonic() - started

    # ------------------------------------------------------------------ generation

    def _generators_for(self, sampling: Sampling, count: int | None = None) -> list[Any]:
        """Greedy: one generator with a single-threaded worker per core (batches run side by side; measured
        faster here than one batch spread over the cores). Sampling: one single-worker generator per core, each
        seeded with its own seed derived from sampling.seed, so batch k always runs on generator k % cores with
        the same random state. CTranslate2 seeds a worker thread's random generator once, at its first sample
        (set_random_seed cannot re-seed it), so each sampling call gets freshly opened generators."""
        import ctranslate2

        with self._lock:
            if sampling.greedy:
                if self._greedy is None:
                    self._greedy = _open(self.folder, self.compute, workers=_cores(), threads=1)
                return [self._greedy]
            samplers = (self._samplers or _open_samplers(self.folder, self.compute, count))[: count or None]
            self._samplers = None
        with _SEED_LOCK:  # set_random_seed is process-wide: seed and warm one generator at a time
            for k, generator in enumerate(samplers):
                ctranslate2.set_random_seed((int(sampling.seed) * 7919 + k) % 2**31)
                generator.generate_batch([[str(self.end_ids[0])]], max_length=1, sampling_topk=0)
        return samplers

    def generate(
        self,
        prompt_ids: Sequence[Sequence[int]],
        sampling: Sampling,
        batch_size: int,
        should_stop: StopCheck | None = None,
    ) -> list[Completion]:
        """Batches of similar prompt length (lab.generation.batching), run side by side, one per core. Every batch
        is submitted at once, so a stop request is honoured only before they start."""
        from lab.generation.batching import length_buckets

        if not prompt_ids:
            return []
        check_stop(should_stop)
        generators = self._generators_for(sampling)
        lengths = [len(ids) for ids in prompt_ids]
        cap = max(1, min(int(batch_size), math.ceil(len(lengths) / _cores())))
        options = {
            "max_length": int(sampling.max_new_tokens),
            "include_prompt_in_result": False,
            "end_token": self.end_ids,
            "return_end_token": True,
            "asynchronous": True,
            **_sampling_options(sampling),
        }
        pending = [
            (
                group,
                generators[k % len(generators)].generate_batch(
                    [[str(i) for i in prompt_ids[j]] for j in group], **options
                ),
            )
            for k, group in enumerate(length_buckets(lengths, int(sampling.max_new_tokens), cap))
        ]
        completions: list[Completion | None] = [None] * len(lengths)
        for group, results in pending:
            for index, result in zip(group, results, strict=True):
                completions[index] = self._completion(result.result().sequences_ids[0])
        return completions  # type: ignore[return-value]

    def _completion(self, ids: list[int]) -> Completion:
        if ids and ids[-1] in self.end_ids:
            return Completion(tuple(ids[:-1]), ids[-1])
        return Completion(tuple(ids))

    def stream(self, prompt_ids: Sequence[int], sampling: Sampling) -> Iterator[int]:
        steps = self._generators_for(sampling, count=1)[0].generate_tokens(
            [str(i) for i in prompt_ids],
            max_length=int(sampling.max_new_tokens),
            end_token=self.end_ids,
            **_sampling_options(sampling),
        )
        try:
            for step in steps:
                if step.token_id in self.end_ids:
                    return
                yield step.token_id
        finally:
            steps.close()  # stops CTranslate2 at its next token when the consumer goes away


def _sampling_options(sampling: Sampling) -> dict[str, Any]:
    options: dict[str, Any] = {"repetition_penalty": float(sampling.repetition_penalty)}
    if sampling.greedy:
        return {**options, "sampling_topk": 1}
    # sampling_topk=0 samples from the whole vocabulary, as transformers does with top_k unset.
    return {
        **options,
        "sampling_topk": int(sampling.top_k or 0),
        "sampling_topp": float(sampling.top_p),
        "sampling_temperature": float(sampling.temperature),
    }


def _cores() -> int:
    import torch

    return max(1, torch.get_num_threads())


def _open(folder: Path, compute: str, workers: int, threads: int) -> Any:
    import ctranslate2
    import torch

    torch_threads = torch.get_num_threads()
    try:
        return ctranslate2.Generator(
            str(folder), device="cpu", compute_type=compute, inter_threads=workers, intra_threads=threads
        )
    finally:
        # Opening a generator calls omp_set_num_threads(intra_threads) in this thread, and torch shares that
        # OpenMP runtime: without this, training and transformers' generate would run on one core afterwards.
        torch.set_num_threads(torch_threads)


def _open_samplers(folder: Path, compute: str, count: int | None = None) -> list[Any]:
    return [_open(folder, compute, workers=1, threads=1) for _ in range(count or _cores())]


# ---------------------------------------------------------------- conversion


def write_model(
    folder: Path, model: Any, tokenizer: Any, compute: str, lora_buffers: dict[str, Any] | None = None
) -> None:
    """Convert a transformers causal LM (a PEFT model: LoRA merged, the model itself untouched) into folder."""
    import torch
    from ctranslate2.converters.transformers import _MODEL_LOADERS

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    loader = _MODEL_LOADERS.get(type(base.config).__name__)
    if loader is None or loader.architecture_name != type(base).__name__:
        raise RuntimeError(f"CTranslate2 cannot convert {type(base).__name__} models")
    with torch.no_grad(), _merged_lora(model, lora_buffers), _no_gc_collect():
        view = _skeleton(base)  # CTranslate2's loaders delete each layer's modules once read
        spec = loader.get_model_spec(view)
        loader.set_config(spec.config, view, tokenizer)
        vocab_size = int(base.get_input_embeddings().weight.shape[0])
        loader.set_vocabulary(spec, [str(i) for i in range(vocab_size)])
        end_ids = end_token_ids(base, tokenizer)
        for attr, token_id in (
            ("bos_token", tokenizer.bos_token_id),
            ("eos_token", end_ids[0] if end_ids else tokenizer.eos_token_id),
            ("unk_token", tokenizer.unk_token_id),
        ):
            if hasattr(spec.config, attr):
                setattr(spec.config, attr, str(token_id if token_id is not None else 0))
        spec.validate()
        # Not spec.optimize(): its search for duplicate variables compares every pair element-wise (~9 s here);
        # the only duplicates a causal LM has are tied weights, which share storage.
        _alias_shared(spec)
        if compute != "float32":
            spec._quantize(compute)
        folder.mkdir(parents=True, exist_ok=True)
        spec.save(str(folder))


def _alias_shared(spec: Any) -> None:
    """Store variables that share storage (tied embeddings) once, as CTranslate2's own optimize() would."""
    from ctranslate2.specs.model_spec import _parent_scope, index_spec

    first: dict[tuple[int, tuple[int, ...], tuple[int, ...]], str] = {}
    for name, value in spec.variables(ordered=True):
        tensor = getattr(value, "tensor", None)
        if tensor is None or value.is_scalar():
            continue
        key = (tensor.data_ptr(), tuple(tensor.shape), tuple(tensor.stride()))
        if key in first:
            scope, attr = _parent_scope(name)
            setattr(index_spec(spec, scope), attr, first[key])
        else:
            first[key] = name


@contextlib.contextmanager
def _no_gc_collect() -> Iterator[None]:
    """CTranslate2's loaders run gc.collect() after every layer (~0.3 s each here); one model needs none."""
    from ctranslate2.converters import transformers as converter

    saved = converter.gc
    converter.gc = types.SimpleNamespace(collect=lambda *args: 0)
    try:
        yield
    finally:
        converter.gc = saved


def _skeleton(module: Any) -> Any:
    """A copy of the module tree that shares every tensor: deleting a submodule from it leaves the model whole."""
    clone = copy.copy(module)
    clone._parameters = dict(module._parameters)
    clone._buffers = dict(module._buffers)
    clone._modules = {name: None if child is None else _skeleton(child) for name, child in module._modules.items()}
    return clone


@contextlib.contextmanager
def _merged_lora(model: Any, buffers: dict[str, Any] | None = None) -> Iterator[None]:
    """Point each LoRA layer's base weight at W + delta while converting, then back at the very same tensor
    (merge_adapter/unmerge_adapter would round the training weights a little on every sync). `buffers` keeps
    the merged tensors between calls, so a per-step sync writes into memory it already has."""
    import torch

    try:
        from peft.tuners.lora import Linear as LoraLinear
        from peft.tuners.lora import LoraLayer
    except ImportError:
        yield
        return
    buffers = {} if buffers is None else buffers
    swapped = []
    try:
        for name, module in model.named_modules():
            if not isinstance(module, LoraLayer) or module.merged:
                continue
            adapters = [a for a in module.active_adapters if a in module.lora_A]
            if not adapters:
                continue
            base = module.get_base_layer()
            original = base.weight.data
            merged = buffers.get(name)
            if merged is None or merged.shape != original.shape or merged.dtype != original.dtype:
                merged = buffers[name] = torch.empty_like(original)
            source = original  # the first adapter reads W, the rest add to the buffer
            for adapter in adapters:
                plain = type(module) is LoraLinear and not module.fan_in_fan_out and not module.use_dora.get(adapter)
                if plain:  # W + s * B @ A in one kernel, straight into the buffer
                    a, b = module.lora_A[adapter].weight, module.lora_B[adapter].weight
                    scale = module.scaling[adapter]
                    torch.addmm(source, b.to(merged.dtype), a.to(merged.dtype), alpha=scale, out=merged)
                else:
                    torch.add(source, module.get_delta_weight(adapter).to(merged.dtype), out=merged)
                source = merged
            base.weight.data = merged
            swapped.append((base, original))
        yield
    finally:
        for base, original in swapped:
            base.weight.data = original


def _cache_folder(loaded: Any, compute: str) -> Path:
    import ctranslate2

    from lab.paths import models_dir

    folders = [Path(loaded.path)]
    if loaded.source.kind == "adapter":
        folders.append(Path(loaded.source.location))
    stats = []
    for folder in folders:
        if folder.is_dir():
            for entry in sorted(folder.iterdir()):
                if entry.is_file():
                    info = entry.stat()
                    stats.append((str(entry.resolve()), info.st_size, info.st_mtime_ns))
    key = json.dumps({"files": stats, "ct2": ctranslate2.__version__, "compute": compute}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    name = Path(loaded.source.location).name or "model"
    return models_dir() / CACHE_SUBDIR / f"{name}-{compute}-{digest}"


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in _MODEL_FILES)


def _convert_atomically(folder: Path, model: Any, tokenizer: Any, compute: str) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        write_model(temp, model, tokenizer, compute)
        try:
            temp.rename(folder)
        except OSError:
            if not _complete(folder):  # not "another process finished first"
                raise
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _write_scratch(model: Any, tokenizer: Any, compute: str, lora_buffers: dict[str, Any]) -> Path:
    folder = _scratch_folder()
    try:
        write_model(folder, model, tokenizer, compute, lora_buffers)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder


def _scratch_folder() -> Path:
    """A temp folder in memory when /dev/shm exists (the per-step policy sync writes ~0.5 GB)."""
    shm = Path("/dev/shm")
    parent = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix="lab-ct2-", dir=parent))
