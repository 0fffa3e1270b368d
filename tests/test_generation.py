"""lab.generation's CTranslate2 engine on the tiny model ($LAB_GENERATION_ENGINE=ctranslate2 here, so "auto" is
CTranslate2; the default torch engine has tests/test_torch_engine.py): CTranslate2 and transformers agree on greedy
tokens, the conversion cache, the policy weight sync GRPO uses, and the fall-back to transformers when the fast
engine is missing or fails."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest

from lab.generation import Sampling, forget_engines, generate_completions, prompt_token_ids
from tests.recording_context import RecordingContext
from tests.tiny_grpo import tiny_grpo_values
from tests.tiny_model import build_tiny_model

pytest.importorskip("ctranslate2")

PROMPTS = ["Write a short poem about the sea.", "Hi", "Explain photosynthesis in simple words for a child, please."]


@pytest.fixture(autouse=True)
def fresh_engines(lab_home: Path, monkeypatch: pytest.MonkeyPatch):
    from lab.models import clear_model_cache

    monkeypatch.setenv("LAB_GENERATION_ENGINE", "ctranslate2")
    forget_engines()
    clear_model_cache()
    yield
    forget_engines()
    clear_model_cache()


def _ids(loaded, prompts=PROMPTS):
    return prompt_token_ids(loaded.tokenizer, prompts)


def test_ctranslate2_greedy_tokens_equal_transformers_and_stop_on_the_same_end_token(tmp_path: Path) -> None:
    from lab.models import clear_model_cache, load_model

    folder = build_tiny_model(tmp_path / "tiny", seed=1)
    loaded = load_model(str(folder))
    greedy = Sampling(max_new_tokens=24)
    fast = generate_completions(loaded, _ids(loaded), greedy, batch_size=2, choice="ctranslate2")
    plain = generate_completions(loaded, _ids(loaded), greedy, batch_size=2, choice="transformers")
    assert fast == plain
    assert all(len(c.ids) == 24 and not c.stopped for c in plain)  # a random model never says <|im_end|>

    # Make a token the greedy answer produces an end token too: both engines must stop right before it.
    stop_token = plain[0].ids[5]
    config = json.loads((folder / "generation_config.json").read_text())
    config["eos_token_id"] = [config["eos_token_id"], stop_token]
    (folder / "generation_config.json").write_text(json.dumps(config))
    clear_model_cache()
    forget_engines()
    loaded = load_model(str(folder))
    fast = generate_completions(loaded, _ids(loaded), greedy, batch_size=2, choice="ctranslate2")
    plain = generate_completions(loaded, _ids(loaded), greedy, batch_size=2, choice="transformers")
    assert fast == plain
    assert plain[0].ids == tuple(plain[0].ids[:5]) and plain[0].end_id == stop_token


def test_generate_batch_uses_the_fast_engine_and_matches_the_forced_plain_path(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lab.generation import engine_for
    from lab.models import generate_batch, load_model

    loaded = load_model(str(tiny_model_dir))
    assert engine_for(loaded).name == "ctranslate2"
    fast = generate_batch(loaded, PROMPTS, max_new_tokens=16)
    monkeypatch.setenv("LAB_GENERATION_ENGINE", "transformers")
    assert engine_for(loaded).name == "transformers"
    assert generate_batch(loaded, PROMPTS, max_new_tokens=16) == fast
    # Sampling honours the seed on the fast path too.
    monkeypatch.setenv("LAB_GENERATION_ENGINE", "ctranslate2")
    first = generate_batch(loaded, PROMPTS, max_new_tokens=16, temperature=1.0, seed=7)
    assert generate_batch(loaded, PROMPTS, max_new_tokens=16, temperature=1.0, seed=7) == first
    assert generate_batch(loaded, PROMPTS, max_new_tokens=16, temperature=1.0, seed=8) != first


def test_conversion_is_cached_under_lab_home_and_reused(tiny_model_dir: Path, lab_home: Path) -> None:
    from lab.generation import engine_for
    from lab.models import clear_model_cache, load_model

    engine = engine_for(load_model(str(tiny_model_dir)))
    cache = lab_home / "models" / "ctranslate2"
    (folder,) = cache.iterdir()
    assert engine.folder == folder and (folder / "model.bin").is_file()
    written = (folder / "model.bin").stat().st_mtime_ns
    forget_engines()
    clear_model_cache()
    assert engine_for(load_model(str(tiny_model_dir))).folder == folder
    assert (folder / "model.bin").stat().st_mtime_ns == written
    assert [p.name for p in cache.iterdir()] == [folder.name]  # no temp folders left behind


def test_streaming_through_the_fast_engine_ends_with_the_batch_text(tiny_model_dir: Path) -> None:
    from lab.generation import generate_texts, stream_texts
    from lab.models import load_model

    loaded = load_model(str(tiny_model_dir))
    greedy = Sampling(max_new_tokens=12)
    stream = stream_texts(loaded, _ids(loaded, PROMPTS[:1])[0], greedy)
    assert stream is not None
    *_, last = stream
    ((text, tokens),) = generate_texts(loaded, PROMPTS[:1], greedy, choice="transformers")
    assert last == text and tokens == 12


def test_a_missing_engine_falls_back_to_transformers_with_a_log_line(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from lab.generation import engine_for
    from lab.models import load_model

    monkeypatch.setitem(sys.modules, "ctranslate2", None)  # `import ctranslate2` now raises ImportError
    loaded = load_model(str(tiny_model_dir))
    with caplog.at_level(logging.WARNING, logger="lab.generation.engine"):
        engine = engine_for(loaded, "ctranslate2")
    assert engine.name == "transformers"
    assert "ctranslate2 engine unavailable" in caplog.text
    plain = generate_completions(loaded, _ids(loaded), Sampling(8), choice="transformers")
    assert generate_completions(loaded, _ids(loaded), Sampling(8), choice="ctranslate2") == plain


def test_a_failing_engine_falls_back_to_transformers_with_a_log_line(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from lab.generation.ct2_engine import CTranslate2Engine
    from lab.models import generate_batch, load_model

    loaded = load_model(str(tiny_model_dir))
    expected = generate_batch(loaded, PROMPTS, max_new_tokens=8)

    def broken(*args, **kwargs):
        raise RuntimeError("simulated engine crash")

    monkeypatch.setattr(CTranslate2Engine, "generate", broken)
    with caplog.at_level(logging.WARNING, logger="lab.generation.engine"):
        assert generate_batch(loaded, PROMPTS, max_new_tokens=8) == expected
    assert "ctranslate2 engine failed" in caplog.text and "simulated engine crash" in caplog.text


def _greedy_policy_tokens(policy, tokenizer, prompt_ids, n: int) -> list[tuple[int, ...]]:
    import torch

    out = []
    with torch.inference_mode():
        for ids in prompt_ids:
            row = policy.generate(torch.tensor([ids]), max_new_tokens=n, do_sample=False, pad_token_id=0)
            out.append(tuple(row[0, len(ids) :].tolist()))
    return out


def test_weight_sync_after_a_training_step_changes_the_engine_like_the_policy(tiny_model_dir: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lab.generation.ct2_engine import CTranslate2Engine

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    policy = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_model_dir),
        LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False),
    )
    prompt_ids = prompt_token_ids(tokenizer, PROMPTS)
    greedy = Sampling(max_new_tokens=12)
    engine = CTranslate2Engine.from_model(policy, tokenizer)
    before = _greedy_policy_tokens(policy, tokenizer, prompt_ids, 12)
    assert [c.ids for c in engine.generate(prompt_ids, greedy, 8)] == before
    base_weights = {k: v.clone() for k, v in policy.state_dict().items() if "lora_" not in k}

    # One optimizer step that pushes the policy towards a token it does not pick now.
    optimizer = torch.optim.SGD([p for p in policy.parameters() if p.requires_grad], lr=5.0)
    target = (before[0][0] + 1) % policy.config.vocab_size
    logits = policy(torch.tensor([prompt_ids[0]])).logits[0, -1]
    torch.nn.functional.cross_entropy(logits[None], torch.tensor([target])).backward()
    optimizer.step()
    after = _greedy_policy_tokens(policy, tokenizer, prompt_ids, 12)
    assert after != before
    assert [c.ids for c in engine.generate(prompt_ids, greedy, 8)] == before  # not synced yet

    seconds = engine.reload_from(policy, tokenizer)
    assert seconds > 0
    assert [c.ids for c in engine.generate(prompt_ids, greedy, 8)] == after
    # The sync merged LoRA into a copy: the policy's own base weights are exactly as they were.
    for name, value in policy.state_dict().items():
        if name in base_weights:
            assert torch.equal(value, base_weights[name]), name
    folder = engine.folder
    del engine
    assert not folder.exists()  # the per-step scratch folder goes with the engine


def test_grpo_steps_roll_out_on_the_engine_and_log_the_sync(tiny_model_dir: Path, tmp_path: Path) -> None:
    from training.grpo_job import GRPOJobConfig, run
    from training.registry import parse_config

    values = tiny_grpo_values(tiny_model_dir, tmp_path, learning_rate=1e-3, generation_engine="ctranslate2")
    ctx = RecordingContext(tmp_path / "run")
    assert run(parse_config(GRPOJobConfig, values), ctx)["steps"] == 2
    for step in (1, 2):
        assert ctx.metrics[step]["engine/sync_s"] > 0, ctx.metrics[step]
        assert ctx.metrics[step]["engine/generate_s"] > 0
    plain = RecordingContext(tmp_path / "plain")
    assert run(parse_config(GRPOJobConfig, {**values, "generation_engine": "transformers"}), plain)["steps"] == 2
    assert "engine/sync_s" not in plain.metrics[1]


def test_failing_rollouts_fall_back_to_trl_generate_with_a_log_line(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from lab.generation.ct2_engine import CTranslate2Engine
    from training.grpo_job import GRPOJobConfig, run
    from training.registry import parse_config

    def broken(*args, **kwargs):
        raise RuntimeError("simulated conversion failure")

    monkeypatch.setattr(CTranslate2Engine, "from_model", broken)
    values = tiny_grpo_values(tiny_model_dir, tmp_path, steps=1, save_every=1, generation_engine="ctranslate2")
    ctx = RecordingContext(tmp_path / "run")
    with caplog.at_level(logging.WARNING, logger="training.grpo_rollout"):
        assert run(parse_config(GRPOJobConfig, values), ctx)["steps"] == 1
    assert "ctranslate2 rollouts failed" in caplog.text and "simulated conversion failure" in caplog.text
    assert "engine/sync_s" not in ctx.metrics[1] and ctx.metrics[1]["completions/mean_length"] > 0


def test_opening_an_engine_leaves_torch_threads_alone(tiny_model_dir: Path) -> None:
    import torch

    from lab.generation import engine_for
    from lab.models import load_model

    threads = torch.get_num_threads()
    loaded = load_model(str(tiny_model_dir))
    generate_completions(loaded, _ids(loaded), Sampling(4), choice="ctranslate2")
    generate_completions(loaded, _ids(loaded), Sampling(4, temperature=1.0), choice="ctranslate2")
    assert engine_for(loaded).name == "ctranslate2"
    assert torch.get_num_threads() == threads  # CTranslate2 sets OpenMP's thread count, which torch shares
