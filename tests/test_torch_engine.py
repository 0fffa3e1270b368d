"""lab.generation.torch_engine against transformers (the library it re-implements the forward pass of): logits,
greedy tokens with slots refilled, end tokens, repetition penalty, sampling by seed, LoRA weight sync, GQA and
q/k/v biases (Qwen2), streaming, the fall-back for a model it cannot run, and GRPO rollouts on it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from lab.generation import Completion, Sampling, forget_engines, generate_completions, prompt_token_ids
from lab.generation.torch_engine import TorchEngine, UnsupportedModel
from tests.recording_context import RecordingContext
from tests.tiny_grpo import tiny_grpo_values

PROMPTS = [
    "Write a short poem about the sea.",
    "Hi",
    "Explain photosynthesis in simple words for a child, please.",
    "Answer in JSON.",
    "The quick brown fox jumps over the lazy dog, twice: the quick brown fox jumps over the lazy dog.",
]


@pytest.fixture(autouse=True)
def fresh_engines(lab_home: Path):
    from lab.models import clear_model_cache

    forget_engines()
    clear_model_cache()
    yield
    forget_engines()
    clear_model_cache()


class _Loaded:
    """What lab.generation needs of a lab.models.LoadedModel."""

    def __init__(self, model, tokenizer, path: Path) -> None:
        self.model, self.tokenizer, self.path = model, tokenizer, path


def _torch(loaded, ids, sampling: Sampling, slots: int):
    """The torch engine itself (not through generate_completions, whose fall-back would hide a failure)."""
    return TorchEngine.for_loaded(loaded).generate(ids, sampling, slots)


def _model(tiny_model_dir: Path, kind: str = "llama", seed: int = 0):
    """A random model on the tiny tokenizer: 'llama' with grouped-query attention (4 heads, 2 kv heads),
    'llama-bias' (attention biases on q, k, v and o) or 'qwen2' (q/k/v biases). A larger init than the default
    makes greedy choices clear-cut."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    common = {
        "vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 512,
        "initializer_range": 0.2, "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id, "tie_word_embeddings": kind != "qwen2",
    }  # fmt: skip
    torch.manual_seed(seed)
    if kind == "qwen2":
        model = Qwen2ForCausalLM(Qwen2Config(**common))
    else:
        model = LlamaForCausalLM(LlamaConfig(**common, rope_theta=500.0, attention_bias=kind == "llama-bias"))
    with torch.no_grad():  # biases start at zero: make them matter
        for layer in model.model.layers:
            attn = layer.self_attn
            for proj in (attn.q_proj, attn.k_proj, attn.v_proj, attn.o_proj):
                if proj.bias is not None:
                    proj.bias.normal_(0, 0.5)
    model.eval()
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return _Loaded(model, tokenizer, tiny_model_dir)


@pytest.mark.parametrize("kind", ["llama", "llama-bias", "qwen2"])
def test_prompt_logits_equal_transformers(tiny_model_dir: Path, kind: str) -> None:
    import torch

    loaded = _model(tiny_model_dir, kind)
    ids = prompt_token_ids(loaded.tokenizer, PROMPTS[:2])[0]
    engine = TorchEngine.for_loaded(loaded)
    from lab.generation.torch_engine import _Run

    with torch.inference_mode():
        run = _Run(engine, engine.weights, [ids], Sampling(4), 1)
        ours = run._prefill([0], [ids])[0]
        theirs = loaded.model(torch.tensor([ids])).logits[0, -1]
        assert torch.allclose(ours, theirs, atol=1e-5), (ours - theirs).abs().max()
        # One decoding step from the cache gives transformers' logits for the prompt plus that token.
        run.last[0] = 7
        stepped = run._step(torch.tensor([0]))[0]
        theirs = loaded.model(torch.tensor([[*ids, 7]])).logits[0, -1]
        assert torch.allclose(stepped, theirs, atol=1e-5), (stepped - theirs).abs().max()


@pytest.mark.parametrize("kind", ["llama", "llama-bias", "qwen2"])
def test_greedy_tokens_equal_transformers_with_slots_refilled(tiny_model_dir: Path, kind: str) -> None:
    loaded = _model(tiny_model_dir, kind)
    ids = prompt_token_ids(loaded.tokenizer, PROMPTS)
    greedy = Sampling(max_new_tokens=20)
    plain = generate_completions(loaded, ids, greedy, batch_size=1, choice="transformers")
    for slots in (1, 2, 5):  # 2 slots: prompts wait, finished slots are refilled, then the batch is compacted
        assert _torch(loaded, ids, greedy, slots) == plain


def test_the_cache_budget_caps_the_slots_not_the_answers(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lab.generation import torch_engine

    loaded = _model(tiny_model_dir)
    ids = prompt_token_ids(loaded.tokenizer, PROMPTS)
    greedy = Sampling(max_new_tokens=12)
    expected = generate_completions(loaded, ids, greedy, batch_size=5, choice="torch")
    longest = max(len(i) for i in ids) + 12
    # layers x (keys, values) x kv heads x head dim x 4 bytes per position: room for two slots
    monkeypatch.setattr(torch_engine, "CACHE_BYTES", 2 * longest * 2 * 2 * 2 * 8 * 4)
    engine = torch_engine.TorchEngine.for_loaded(loaded)
    assert torch_engine._Run(engine, engine.weights, ids, greedy, 5).slots == 2
    assert engine.generate(ids, greedy, 5) == expected


def test_a_repeated_prompt_is_prefilled_once_and_its_copies_decode_on_their_own(tiny_model_dir: Path) -> None:
    from lab.generation.torch_engine import _Run

    loaded = _model(tiny_model_dir)
    ids = prompt_token_ids(loaded.tokenizer, PROMPTS[:2]) * 4  # GRPO's layout: each prompt once per completion
    greedy = Sampling(max_new_tokens=12)
    plain = generate_completions(loaded, ids, greedy, batch_size=1, choice="transformers")
    prefilled: list[int] = []
    original = _Run._prefill

    def counting(self, slots, prompts, start=0):
        prefilled.extend(len(p) for p in prompts)
        return original(self, slots, prompts, start)

    _Run._prefill = counting
    try:
        assert _torch(loaded, ids, greedy, 8) == plain
        assert len(prefilled) == 2
        penalised = Sampling(max_new_tokens=12, repetition_penalty=1.8)  # each copy keeps its own seen tokens
        expected = generate_completions(loaded, ids, penalised, batch_size=1, choice="transformers")
        assert _torch(loaded, ids, penalised, 3) == expected  # 3 slots: copies, refills and a compaction
        sampled = _torch(loaded, ids, Sampling(12, temperature=1.0, seed=1), 8)
    finally:
        _Run._prefill = original
    assert len({c.ids for c in sampled[0::2]}) > 1  # the copies of one prompt are sampled independently


def test_a_prefix_shared_by_the_prompts_runs_once_and_answers_stay_transformers(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from lab.generation.torch_engine import SHARED_PREFIX_MIN, _Run, shared_prefix_length

    loaded = _model(tiny_model_dir, "llama-bias")
    preface = "You are a careful assistant: follow every instruction exactly and keep it short. "
    ids = prompt_token_ids(loaded.tokenizer, [preface + p for p in PROMPTS])
    shared = shared_prefix_length(ids)
    assert shared >= SHARED_PREFIX_MIN and all(i[:shared] == ids[0][:shared] for i in ids)
    engine = TorchEngine.for_loaded(loaded)
    with torch.inference_mode():  # the prompts' last logits: prefix once + the rest from the cache == all at once
        whole = _Run(engine, engine.weights, ids, Sampling(4), len(ids))._prefill(list(range(len(ids))), ids)
        split = _Run(engine, engine.weights, ids, Sampling(4), len(ids))._prefill_group(list(range(len(ids))), ids)
    assert torch.allclose(whole, split, atol=1e-5), (whole - split).abs().max()
    calls: list[tuple[int, int]] = []
    original = _Run._prefill

    def recording(self, slots, prompts, start=0):
        calls.append((len(prompts), start))
        return original(self, slots, prompts, start)

    monkeypatch.setattr(_Run, "_prefill", recording)
    greedy = Sampling(max_new_tokens=16)
    plain = generate_completions(loaded, ids, greedy, batch_size=1, choice="transformers")
    assert _torch(loaded, ids, greedy, 5) == plain
    assert calls == [(1, 0), (5, shared)]  # the prefix alone, then every prompt from where they differ
    assert _torch(loaded, ids, greedy, 2) == plain  # two slots: each admission shares its own prefix


@pytest.mark.parametrize("width", [49152, 50000, 4096, 5000, 1000, 3])
def test_first_argmax_is_torch_argmax_ties_included(width: int) -> None:
    import torch

    from lab.generation.torch_engine import first_argmax

    torch.manual_seed(width)
    scores = torch.randn(9, width)
    scores[1, [min(7, width - 2), width - 1]] = 100.0  # a tie across blocks: the first index wins
    scores[2, -1] = 100.0  # the maximum in a short last block
    scores[3] = 0.0  # all equal
    scores[4, width // 2 :] = 50.0
    rounded = torch.randn(5, width).round()  # many ties
    for batch in (scores, rounded):
        assert torch.equal(first_argmax(batch), batch.argmax(dim=-1))


def test_both_engines_stop_right_before_the_same_end_token(tiny_model_dir: Path) -> None:
    loaded = _model(tiny_model_dir)
    ids = prompt_token_ids(loaded.tokenizer, PROMPTS)
    greedy = Sampling(max_new_tokens=16)
    first = generate_completions(loaded, ids, greedy, batch_size=1, choice="transformers")
    stop_token = first[0].ids[4]
    loaded.model.generation_config.eos_token_id = [loaded.tokenizer.eos_token_id, stop_token]
    plain = generate_completions(loaded, ids, greedy, batch_size=1, choice="transformers")
    assert _torch(loaded, ids, greedy, 2) == plain
    cut = first[0].ids.index(stop_token)
    assert plain[0].ids == first[0].ids[:cut] and plain[0].end_id == stop_token
    assert any(not c.stopped and len(c.ids) == 16 for c in plain)  # others ran to the limit: both kinds covered


def test_repetition_penalty_as_transformers_applies_it(tiny_model_dir: Path) -> None:
    loaded = _model(tiny_model_dir)
    ids = prompt_token_ids(loaded.tokenizer, PROMPTS)
    penalised = Sampling(max_new_tokens=16, repetition_penalty=1.8)
    plain = generate_completions(loaded, ids, penalised, batch_size=1, choice="transformers")
    assert _torch(loaded, ids, penalised, 3) == plain
    assert plain != generate_completions(loaded, ids, Sampling(max_new_tokens=16), batch_size=1, choice="transformers")
    # The checkpoint's own repetition_penalty applies when the caller sets none, as in transformers' generate.
    loaded.model.generation_config.repetition_penalty = 1.8
    default = Sampling(max_new_tokens=16)
    assert generate_completions(loaded, ids, default, batch_size=1, choice="transformers") == plain
    assert _torch(loaded, ids, default, 3) == plain


def test_sampling_follows_the_seed_and_degenerate_settings_are_greedy(tiny_model_dir: Path) -> None:
    loaded = _model(tiny_model_dir)
    ids = prompt_token_ids(loaded.tokenizer, PROMPTS)

    def sample(**kwargs):
        return _torch(loaded, ids, Sampling(max_new_tokens=12, **kwargs), 2)

    first = sample(temperature=1.0, seed=7)
    assert sample(temperature=1.0, seed=7) == first
    assert sample(temperature=1.0, seed=8) != first
    greedy = sample()
    assert sample(temperature=1.0, top_k=1, seed=3) == greedy
    assert sample(temperature=1.0, top_p=1e-6, seed=3) == greedy


def test_stream_yields_the_batch_tokens_and_stops_when_closed(tiny_model_dir: Path) -> None:
    loaded = _model(tiny_model_dir)
    ids = prompt_token_ids(loaded.tokenizer, PROMPTS[:1])
    engine = TorchEngine.for_loaded(loaded)
    greedy = Sampling(max_new_tokens=12)
    assert tuple(engine.stream(ids[0], greedy)) == engine.generate(ids, greedy, 1)[0].ids
    tokens = engine.stream(ids[0], greedy)
    taken = [next(tokens), next(tokens)]
    tokens.close()
    assert tuple(taken) == engine.generate(ids, greedy, 1)[0].ids[:2]


def test_weight_sync_after_a_training_step_changes_the_engine_like_the_policy(tiny_model_dir: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model

    loaded = _model(tiny_model_dir)
    policy = get_peft_model(
        loaded.model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False)
    )
    tokenizer = loaded.tokenizer
    prompt_ids = prompt_token_ids(tokenizer, PROMPTS)
    greedy = Sampling(max_new_tokens=12)

    def policy_tokens():
        as_loaded = _Loaded(policy, tokenizer, tiny_model_dir)
        return [c.ids for c in generate_completions(as_loaded, prompt_ids, greedy, 1, "transformers")]

    engine = TorchEngine.from_model(policy, tokenizer)
    before = policy_tokens()
    assert [c.ids for c in engine.generate(prompt_ids, greedy, 2)] == before
    base_weights = {k: v.clone() for k, v in policy.state_dict().items() if "lora_" not in k}

    optimizer = torch.optim.SGD([p for p in policy.parameters() if p.requires_grad], lr=5.0)
    target = (before[0][0] + 1) % policy.config.vocab_size
    logits = policy(torch.tensor([prompt_ids[0]])).logits[0, -1]
    torch.nn.functional.cross_entropy(logits[None], torch.tensor([target])).backward()
    optimizer.step()
    after = policy_tokens()
    assert after != before
    assert [c.ids for c in engine.generate(prompt_ids, greedy, 2)] == before  # not synced yet
    assert engine.reload_from(policy, tokenizer) > 0
    assert [c.ids for c in engine.generate(prompt_ids, greedy, 2)] == after
    for name, value in policy.state_dict().items():  # merged into a copy: the policy's base weights are untouched
        if name in base_weights:
            assert torch.equal(value, base_weights[name]), name


def test_a_sync_reuses_the_frozen_base_and_equals_a_fresh_read(tiny_model_dir: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model

    from lab.generation.torch_engine import read_weights

    def assert_like_a_fresh_read(engine: TorchEngine, model) -> None:
        fresh = read_weights(model)  # no kept copies
        ours = engine.weights
        assert torch.equal(ours.lm_head, fresh.lm_head)
        for mine, theirs in zip(ours.layers, fresh.layers, strict=True):
            for name in ("qkv", "out", "gate_up", "down"):
                assert torch.allclose(getattr(mine, name), getattr(theirs, name), atol=1e-6), name

    loaded = _model(tiny_model_dir)
    policy = get_peft_model(
        loaded.model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False)
    )
    engine = TorchEngine.from_model(policy, loaded.tokenizer)
    kept = dict(engine._frozen._kept)
    with torch.no_grad():
        for name, parameter in policy.named_parameters():
            if "lora_B" in name:
                parameter.add_(0.3)
    engine.reload_from(policy, loaded.tokenizer)
    assert all(engine._frozen._kept[name][1] is value[1] for name, value in kept.items())  # the base: not redone
    assert_like_a_fresh_read(engine, policy)
    # PEFT's merge rewrites the base weights through .data (no version bump): its flag makes them read again.
    policy.merge_adapter()
    engine.reload_from(policy, loaded.tokenizer)
    assert_like_a_fresh_read(engine, policy)
    policy.unmerge_adapter()
    engine.reload_from(policy, loaded.tokenizer)
    assert_like_a_fresh_read(engine, policy)
    # A full fine-tune trains the base weights (a fused optimiser step leaves their version counter alone): they are
    # read afresh at every sync, never kept.
    model = _model(tiny_model_dir, seed=1).model
    engine = TorchEngine.from_model(model, loaded.tokenizer)
    first = engine.weights.layers[0].down
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1, fused=True)
    ids = torch.tensor([prompt_token_ids(loaded.tokenizer, PROMPTS[:1])[0]])
    model(ids, labels=ids).loss.backward()
    optimizer.step()
    engine.reload_from(model, loaded.tokenizer)
    assert not torch.equal(engine.weights.layers[0].down, first)
    assert not engine._frozen._kept
    assert_like_a_fresh_read(engine, model)


def test_the_first_token_and_no_token(tiny_model_dir: Path) -> None:
    loaded = _model(tiny_model_dir)
    ids = prompt_token_ids(loaded.tokenizer, PROMPTS)
    one = Sampling(max_new_tokens=1)
    assert _torch(loaded, ids, one, 2) == generate_completions(loaded, ids, one, 1, "transformers")
    assert all(len(c.ids) == 1 for c in _torch(loaded, ids, one, 2))
    assert _torch(loaded, ids, Sampling(max_new_tokens=0), 2) == [Completion(()) for _ in ids]
    # Every answer ends at its first token: slots are freed and refilled before any decoding step.
    first = _torch(loaded, ids, one, 2)
    loaded.model.generation_config.eos_token_id = sorted({c.ids[0] for c in first})
    ended = _torch(loaded, ids, Sampling(max_new_tokens=8), 2)
    assert all(c.ids == () and c.end_id == f.ids[0] for c, f in zip(ended, first, strict=True))


@pytest.mark.parametrize(
    "settings",
    [
        {"temperature": 0.7},
        {"temperature": 1.3, "top_k": 5},
        {"temperature": 1.0, "top_p": 0.6},
        {"temperature": 0.8, "top_k": 20, "top_p": 0.9, "repetition_penalty": 1.4},
    ],
)
def test_sampling_scores_equal_transformers_logits_processors(tiny_model_dir: Path, settings: dict) -> None:
    import torch
    from transformers import (
        LogitsProcessorList,
        RepetitionPenaltyLogitsProcessor,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    from lab.generation.torch_engine import _Run

    loaded = _model(tiny_model_dir)
    engine = TorchEngine.for_loaded(loaded)
    ids = prompt_token_ids(loaded.tokenizer, PROMPTS[:3])
    sampling = Sampling(max_new_tokens=4, **settings)
    run = _Run(engine, engine.weights, ids, sampling, 3)
    vocab = engine.weights.lm_head.shape[1]
    history = torch.zeros((3, max(len(i) for i in ids)), dtype=torch.int64)
    for row, prompt in enumerate(ids):
        history[row, : len(prompt)] = torch.tensor(prompt)
        history[row, len(prompt) :] = prompt[0]  # padding with a token already in the prompt changes nothing
        if run.seen is not None:
            run.seen[row, torch.tensor(prompt)] = True
    processors = LogitsProcessorList()
    if sampling.repetition_penalty != 1.0:
        processors.append(RepetitionPenaltyLogitsProcessor(sampling.repetition_penalty))
    processors.append(TemperatureLogitsWarper(sampling.temperature))
    if sampling.top_k:
        processors.append(TopKLogitsWarper(sampling.top_k))
    if sampling.top_p < 1.0:
        processors.append(TopPLogitsWarper(sampling.top_p))
    torch.manual_seed(0)
    logits = torch.randn(3, vocab) * 3
    theirs = processors(history, logits.clone())
    ours = run._scores(logits, torch.arange(3))
    assert torch.equal(torch.isinf(ours), torch.isinf(theirs))
    assert torch.allclose(ours[~torch.isinf(ours)], theirs[~torch.isinf(theirs)])
    assert torch.isinf(ours).any() == bool(sampling.top_k or sampling.top_p < 1.0)


def test_a_model_the_engine_cannot_run_falls_back_to_transformers_with_a_log_line(
    tiny_model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from lab.generation import engine_for

    loaded = _model(tiny_model_dir)
    loaded.model.config.rope_parameters = {"rope_type": "linear", "factor": 2.0, "rope_theta": 500.0}
    with pytest.raises(UnsupportedModel, match="rotary"):
        TorchEngine.for_loaded(loaded)
    with caplog.at_level(logging.WARNING, logger="lab.generation.engine"):
        assert engine_for(loaded, "torch").name == "transformers"
    assert "torch engine unavailable" in caplog.text and "rotary" in caplog.text


def test_a_failing_engine_falls_back_to_transformers_with_a_log_line(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    loaded = _model(tiny_model_dir)
    ids = prompt_token_ids(loaded.tokenizer, PROMPTS)
    expected = generate_completions(loaded, ids, Sampling(8), 1, "transformers")

    def broken(*args, **kwargs):
        raise RuntimeError("simulated engine crash")

    monkeypatch.setattr(TorchEngine, "generate", broken)
    with caplog.at_level(logging.WARNING, logger="lab.generation.engine"):
        assert generate_completions(loaded, ids, Sampling(8), 1, "torch") == expected
    assert "torch engine failed" in caplog.text and "simulated engine crash" in caplog.text


def test_a_stop_request_ends_generation_mid_batch_without_a_fall_back(tiny_model_dir: Path) -> None:
    """A cancelled job must not wait for a whole batch: the torch engine asks at every token and stops, and a stop
    is not a failure (no fall-back to transformers, which would generate the batch again)."""
    from lab.generation import GenerationStopped, engine_for

    loaded = _model(tiny_model_dir)
    ids = prompt_token_ids(loaded.tokenizer, PROMPTS)
    asked = []

    def stop_after(n: int):
        def should_stop() -> bool:
            asked.append(1)
            return len(asked) > n

        return should_stop

    with pytest.raises(GenerationStopped):
        generate_completions(loaded, ids, Sampling(40), 8, "torch", stop_after(12))
    assert len(asked) == 13  # stopped at the first "yes", after 12 tokens of 5 x 40
    assert engine_for(loaded, "torch").name == "torch"  # not marked failed
    asked.clear()
    with pytest.raises(GenerationStopped):
        generate_completions(loaded, ids, Sampling(4), 2, "transformers", stop_after(1))
    assert len(asked) == 2  # transformers asks between its static batches
    full = generate_completions(loaded, ids, Sampling(6), 8, "torch", lambda: False)
    assert full == generate_completions(loaded, ids, Sampling(6), 8, "torch")

    def locked_database() -> bool:
        raise RuntimeError("database is locked")

    # A stop check that fails means "go on", not an engine failure (that would drop the engine for the model).
    assert generate_completions(loaded, ids, Sampling(6), 8, "torch", locked_database) == full
    assert engine_for(loaded, "torch").name == "torch"


def test_auto_is_the_torch_engine_on_cpu_and_the_env_var_forces_transformers(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lab.generation import engine_for
    from lab.models import generate_batch, load_model

    loaded = load_model(str(tiny_model_dir))
    assert engine_for(loaded).name == "torch"
    fast = generate_batch(loaded, PROMPTS, max_new_tokens=16)
    monkeypatch.setenv("LAB_GENERATION_ENGINE", "transformers")
    assert engine_for(loaded).name == "transformers"
    assert generate_batch(loaded, PROMPTS, max_new_tokens=16) == fast


def test_grpo_steps_roll_out_on_the_torch_engine_and_log_the_sync(tiny_model_dir: Path, tmp_path: Path) -> None:
    from training.grpo_job import GRPOJobConfig, run
    from training.registry import parse_config

    values = tiny_grpo_values(tiny_model_dir, tmp_path, learning_rate=1e-3, generation_engine="torch")
    ctx = RecordingContext(tmp_path / "run")
    assert run(parse_config(GRPOJobConfig, values), ctx)["steps"] == 2
    for step in (1, 2):
        assert ctx.metrics[step]["engine/sync_s"] > 0, ctx.metrics[step]
        assert ctx.metrics[step]["engine/generate_s"] > 0
        assert ctx.metrics[step]["completions/mean_length"] > 0
