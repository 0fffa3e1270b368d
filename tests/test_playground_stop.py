"""Stop through Gradio itself: cancelling the `generate` API mid-prefill runs at most one more forward pass."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest


def test_cancel_during_a_long_prefill_stops_the_model(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gradio as gr
    from gradio_client import Client

    from lab import models
    from ui import playground

    for name in ("LAB_READ_ONLY", "LAB_ALLOW_REMOTE_CODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(models, "PREFILL_CHUNK_TOKENS", 8)
    loaded = models.load_model(str(tiny_model_dir))
    prompt = "Write a short poem about the sea. " * 12
    chunks = models.count_prompt_tokens(loaded, prompt) // 8
    assert chunks > 20
    forwards: list[float] = []

    def slow_forward(module: object, args: object) -> None:  # a big model on a slow CPU
        forwards.append(time.monotonic())
        time.sleep(0.2)

    hook = loaded.model.register_forward_pre_hook(slow_forward)
    with gr.Blocks() as demo:
        playground.build(demo)
    demo.queue()
    try:
        _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True)
        client = Client(url, verbose=False)
        job = client.submit(str(tiny_model_dir), prompt, 64, 0.0, 1.0, 0, False, api_name="/generate")
        deadline = time.monotonic() + 60
        while len(forwards) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        cancelled_at = time.monotonic()
        job.cancel()
        deadline = time.monotonic() + 20
        while any(t.name == "stream-generate" for t in threading.enumerate()) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        hook.remove()
        demo.close()
    assert not any(t.name == "stream-generate" for t in threading.enumerate()), "generation kept running"
    assert len([t for t in forwards if t > cancelled_at]) <= 2, "the prompt kept being read after Stop"
    assert len(forwards) < chunks, "Stop came mid-prefill, so the prompt was never read to its end"
