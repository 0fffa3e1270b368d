"""The generation engine interface, the automatic engine choice, and the fall-back to plain transformers.

Engines work on token ids: every engine sees exactly the ids `prompt_token_ids` makes (chat template, no
double BOS) and stops on the same end ids (the checkpoint's generation_config), so only the arithmetic differs.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from lab.errors import LabError

ENGINE_ENV = "LAB_GENERATION_ENGINE"
ENGINES = ("auto", "torch", "ctranslate2", "transformers")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sampling:
    """How to pick tokens. temperature 0 = greedy; top_k 0 = the whole vocabulary."""

    max_new_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    repetition_penalty: float = 1.0
    seed: int = 0

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0


@dataclass(frozen=True)
class Completion:
    """The tokens generated after a prompt, without the end token; `end_id` is the end token when it stopped on one."""

    ids: tuple[int, ...]
    end_id: int | None = None

    @property
    def stopped(self) -> bool:
        return self.end_id is not None


StopCheck = Callable[[], bool]


class GenerationStopped(Exception):
    """A generate call's `should_stop` said stop (a job was cancelled): its unfinished answers are dropped."""


def check_stop(should_stop: StopCheck | None) -> None:
    """Raise GenerationStopped when `should_stop` says so (engines call it between decoding steps or batches). A
    check that fails (a job's poll of a locked database) means "go on": it must not count as an engine failure."""
    if should_stop is None:
        return
    try:
        stop = should_stop()
    except Exception as error:
        log.debug("generation: the stop check failed (%r); going on", error)
        return
    if stop:
        raise GenerationStopped("generation stopped on request")


class Engine(Protocol):
    name: str

    def generate(
        self,
        prompt_ids: Sequence[Sequence[int]],
        sampling: Sampling,
        batch_size: int,
        should_stop: StopCheck | None = None,
    ) -> list[Completion]:
        """One completion per prompt, in the prompts' order; GenerationStopped once `should_stop()` is true (the
        torch engine asks at every token, transformers between its static batches, CTranslate2 before it starts)."""
        ...

    def stream(self, prompt_ids: Sequence[int], sampling: Sampling) -> Iterator[int]:
        """The generated ids of one prompt as they come (end token excluded); closing the iterator stops it."""
        ...


def resolve_engine(choice: str | None = None) -> str:
    """'auto' (the default, or $LAB_GENERATION_ENGINE) -> 'torch' (lab.generation.torch_engine: continuous batching
    on the model's own weights) when there is no CUDA GPU (on a GPU, plain transformers or vLLM is faster), else
    'transformers'. A model the torch engine cannot run falls back to transformers (engine_for)."""
    explicit = (choice or "").strip().lower()
    text = (explicit if explicit not in ("", "auto") else os.environ.get(ENGINE_ENV, "")).strip().lower() or "auto"
    if text not in ENGINES:
        raise LabError(f"must be one of {', '.join(ENGINES)}, got {text!r}", field="generation_engine")
    if text != "auto":
        return text
    return "transformers" if _cuda() else "torch"


def ctranslate2_available() -> bool:
    return importlib.util.find_spec("ctranslate2") is not None


def vllm_available() -> bool:
    """vLLM can generate here: the vllm package and a CUDA GPU (evaluation backends, GRPO rollouts)."""
    if importlib.util.find_spec("vllm") is None:
        return False
    return _cuda()


def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def end_token_ids(model: Any, tokenizer: Any) -> list[int]:
    """The ids generation stops on: the checkpoint's generation_config (what transformers' generate uses)."""
    config = getattr(model, "generation_config", None)
    eos = getattr(config, "eos_token_id", None)
    if eos is None:
        eos = tokenizer.eos_token_id
    ids = [eos] if isinstance(eos, int) else list(eos or [])
    return [int(i) for i in ids]


def prompt_token_ids(tokenizer: Any, prompts: Sequence[str]) -> list[list[int]]:
    """Each prompt as a user chat turn, tokenized exactly as lab.models._encode does (without the padding)."""
    from lab.models import _chat_texts

    texts = _chat_texts(tokenizer, list(prompts))
    # A chat template already writes its special tokens; adding them again would double the BOS.
    add_special = not getattr(tokenizer, "chat_template", None)
    return [list(ids) for ids in tokenizer(texts, add_special_tokens=add_special)["input_ids"]]


# Engines per loaded model (weak keys: an engine goes when lab.models' LRU drops its model).
_engines: weakref.WeakKeyDictionary[Any, Engine] = weakref.WeakKeyDictionary()
_failed: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def forget_engines() -> None:
    """Drop every engine and failure mark (tests; after a model's weights changed in place)."""
    with _lock:
        _engines.clear()
        _failed.clear()


def engine_for(loaded: Any, choice: str | None = None) -> Engine:
    """The engine for a lab.models.LoadedModel; any failure to build the fast one gives transformers (logged)."""
    from lab.generation.transformers_engine import TransformersEngine

    name = resolve_engine(choice)
    model = loaded.model
    if name == "transformers" or model in _failed:
        return TransformersEngine(loaded)
    with _lock:
        engine = _engines.get(model)
        if engine is not None and engine.name == name:
            return engine
        try:
            engine = _build(name, loaded)
        except Exception as error:  # missing package, unsupported architecture, disk full: all mean "use the reference"
            _failed[model] = repr(error)
            log.warning("generation: %s engine unavailable for %s (%r); using transformers", name, loaded.path, error)
            return TransformersEngine(loaded)
        _engines[model] = engine
        return engine


def _build(name: str, loaded: Any) -> Engine:
    if name == "torch":
        from lab.generation.torch_engine import TorchEngine

        return TorchEngine.for_loaded(loaded)
    if name == "ctranslate2":
        from lab.generation.ct2_engine import CTranslate2Engine

        if str(getattr(loaded.model, "device", "cpu")) != "cpu":
            raise RuntimeError("the CTranslate2 engine here runs on CPU only")
        return CTranslate2Engine.for_loaded(loaded)
    raise LabError(f"unknown generation engine {name!r}", field="generation_engine")


def generate_completions(
    loaded: Any,
    prompt_ids: Sequence[Sequence[int]],
    sampling: Sampling,
    batch_size: int = 16,
    choice: str | None = None,
    should_stop: StopCheck | None = None,
) -> list[Completion]:
    """Generate with the chosen engine; a failing fast engine is logged, dropped, and transformers answers.
    GenerationStopped (a stop request, not a failure) passes through."""
    from lab.generation.transformers_engine import TransformersEngine

    engine = engine_for(loaded, choice)
    if engine.name == "transformers":
        return engine.generate(prompt_ids, sampling, batch_size, should_stop)
    try:
        return engine.generate(prompt_ids, sampling, batch_size, should_stop)
    except GenerationStopped:
        raise
    except Exception as error:
        _mark_failed(loaded, error, engine.name)
        return TransformersEngine(loaded).generate(prompt_ids, sampling, batch_size, should_stop)


def _mark_failed(loaded: Any, error: BaseException, name: str) -> None:
    with _lock:
        _failed[loaded.model] = repr(error)
        _engines.pop(loaded.model, None)
    log.warning("generation: %s engine failed (%r); using transformers for %s from now on", name, error, loaded.path)


def generate_texts(
    loaded: Any,
    prompts: Sequence[str],
    sampling: Sampling,
    batch_size: int = 16,
    choice: str | None = None,
    should_stop: StopCheck | None = None,
) -> list[tuple[str, int]]:
    """(response text, generated token count) per prompt, sent as a user chat turn."""
    if not prompts:
        return []
    ids = prompt_token_ids(loaded.tokenizer, prompts)
    completions = generate_completions(loaded, ids, sampling, batch_size, choice, should_stop)
    texts = loaded.tokenizer.batch_decode([list(c.ids) for c in completions], skip_special_tokens=True)
    return [(text, len(c.ids)) for text, c in zip(texts, completions, strict=True)]


def stream_texts(
    loaded: Any,
    prompt_ids: Sequence[int],
    sampling: Sampling,
    choice: str | None = None,
    stop: threading.Event | None = None,
) -> Iterator[str] | None:
    """The growing response text through the fast engine, or None when the engine is plain transformers
    (lab.models.stream_generate then streams with transformers' own streamer). Closing the iterator or setting
    `stop` ends generation at the next token."""
    engine = engine_for(loaded, choice)
    if engine.name == "transformers":
        return None
    return _stream(loaded, engine, prompt_ids, sampling, stop)


def _stream(
    loaded: Any, engine: Engine, prompt_ids: Sequence[int], sampling: Sampling, stop: threading.Event | None
) -> Iterator[str]:
    tokenizer = loaded.tokenizer
    ids: list[int] = []
    shown = ""
    tokens = engine.stream(prompt_ids, sampling)
    try:
        for token in tokens:
            if stop is not None and stop.is_set():
                return
            ids.append(token)
            text = tokenizer.decode(ids, skip_special_tokens=True)
            # A byte-level token can end inside a UTF-8 character: wait for the rest before showing it.
            if text != shown and not text.endswith("\ufffd"):
                shown = text
                yield text
        text = tokenizer.decode(ids, skip_special_tokens=True)
        if text != shown:
            yield text
    finally:
        close = getattr(tokens, "close", None)
        if close:
            close()
