"""One generation module for every caller (evaluate, reward-model pairs, generate jobs, playground, arena, GRPO).

`engine.py` chooses the engine (CTranslate2 on CPU, plain transformers otherwise or when forced with
LAB_GENERATION_ENGINE=transformers) and falls back to transformers when the fast engine is missing or fails.
"""

from lab.generation.engine import (
    ENGINE_ENV,
    ENGINES,
    Completion,
    Sampling,
    engine_for,
    forget_engines,
    generate_completions,
    generate_texts,
    prompt_token_ids,
    resolve_engine,
    stream_texts,
    vllm_available,
)

__all__ = [
    "ENGINES",
    "ENGINE_ENV",
    "Completion",
    "Sampling",
    "engine_for",
    "forget_engines",
    "generate_completions",
    "generate_texts",
    "prompt_token_ids",
    "resolve_engine",
    "stream_texts",
    "vllm_available",
]
