"""Playground tab: pick a model, type a prompt, stream the response (always rendered as plain text)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import gradio as gr

from evals.targets import is_registered_checkpoint
from lab.errors import LabError
from lab.model_access import DEMO_MODELS, check_demo_model, read_only, remote_code_allowed
from lab.models import DEFAULT_MODEL_SPEC, check_seed, load_model, stream_generate
from ui.choices import generation_models
from ui.errors import to_ui_error
from ui.events import MODEL, QUICK
from ui.sampling_widgets import TEMPERATURE, sampling_widgets

MODEL_INFO = f"'{DEFAULT_MODEL_SPEC}' (built in, offline), a local checkpoint folder path, or a hub id 'org/name'"
STOPPED = "Stopped."


def model_choices() -> list[tuple[str, str]]:
    """The bundled default first, then trained policy checkpoints, then checkpoint folders under $LAB_HOME/models."""
    return generation_models()


def generate(
    model_spec: str,
    prompt: str,
    max_new_tokens: float,
    temperature: float,
    top_p: float,
    seed: float,
    trust_remote_code: bool,
    progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008 (gradio injects it by this default)
) -> Iterator[tuple[str, str]]:
    """Stream (response so far, status line) for one prompt (the public `generate` API and the screens).

    Whatever the client sends: a read-only demo generates only with the models lab.model_access allows and
    never trusts remote code; elsewhere trust_remote_code also needs the operator's LAB_ALLOW_REMOTE_CODE=1.
    """
    try:
        if not (prompt or "").strip():
            raise LabError("prompt is empty; type what the model should answer.", field="prompt")
        seed = check_seed(0 if seed is None else seed)
        check_demo_model(model_spec, is_registered_checkpoint)  # before "Loading ...": no file read, no hub call
        trust = bool(trust_remote_code) and not read_only()
        started = time.monotonic()
        yield "", f"Loading {model_spec} ..."
        loaded = load_model(
            model_spec,
            trust_remote_code=trust,
            progress=lambda f, m: progress(f, desc=m),
            is_registered=is_registered_checkpoint,
        )
        loaded_at = time.monotonic()
        waiting = f"Generating with {_short(loaded.path)} ..."
        yield "", waiting
        text, first = "", None
        stream = stream_generate(
            loaded,
            prompt,
            max_new_tokens=int(max_new_tokens),
            temperature=float(temperature),
            top_p=float(top_p),
            seed=seed,
        )
        with contextlib.closing(stream):  # Stop closes this generator; closing the stream then stops the model
            for text in stream:
                first = first or (time.monotonic() if text else None)
                yield text, "Generating ..." if text else waiting
        tokens = len(loaded.tokenizer(text, add_special_tokens=False)["input_ids"])
        generating = time.monotonic() - loaded_at  # tokens/s leaves out loading the model
        rate = f", {tokens / generating:.1f} tokens/s" if generating > 0 and tokens else ""
        loading = f"; loading took {loaded_at - started:.1f} s" if loaded_at - started >= 0.5 else ""
        yield text, f"Done: ~{tokens} tokens in {generating:.1f} s{rate} ({_short(loaded.path)}){loading}"
    except Exception as error:
        ui_error = to_ui_error(error, "Generation")
        # The status line must not keep saying "Loading ..." or "Generating ..." after a failure.
        yield gr.skip(), f"Not generated: {error}"[:300] if isinstance(error, LabError) else "Not generated: error"
        raise ui_error from None


def _short(path: Path) -> str:
    return path.name or str(path)


def build(demo: gr.Blocks, tab: gr.Tab | None = None) -> None:
    """Render the Playground inside the current Blocks context (call inside a gr.Tab)."""
    with gr.Row():
        with gr.Column(scale=3):
            model = gr.Dropdown(
                choices=[DEFAULT_MODEL_SPEC],
                value=DEFAULT_MODEL_SPEC,
                allow_custom_value=True,
                label="Model",
                info=f"Read-only demo: {DEMO_MODELS}." if read_only() else MODEL_INFO,
                elem_id="playground-model",
            )
            prompt = gr.Textbox(
                label="Prompt",
                lines=5,
                placeholder="Write a haiku about the sea. Use only lowercase letters.",
                elem_id="playground-prompt",
            )
            with gr.Row():
                run = gr.Button("Generate", variant="primary", elem_id="playground-generate")
                stop = gr.Button("Stop", variant="stop", elem_id="playground-stop")
            # A Textbox shows model output as text: no markdown or HTML is ever interpreted.
            response = gr.Textbox(
                label="Response",
                lines=12,
                interactive=False,
                buttons=["copy"],
                elem_id="playground-response",
            )
            status = gr.Textbox(label="Status", lines=1, interactive=False, elem_id="playground-status")
        with gr.Column(scale=1):
            sampling = sampling_widgets("playground", info={TEMPERATURE: "0 = greedy"})
            # Shown only when the operator allows remote code (LAB_ALLOW_REMOTE_CODE=1); the server checks anyway.
            trust = gr.Checkbox(
                value=False,
                label="Trust remote code",
                info="Lets a checkpoint run its own Python code. Only for models you trust.",
                visible=remote_code_allowed(),
                elem_id="playground-trust-remote-code",
            )
    inputs = [model, prompt, sampling.max_new_tokens, sampling.temperature, sampling.top_p, sampling.seed, trust]
    one_at_a_time = {"concurrency_id": "model", "concurrency_limit": 1}  # few CPU cores: one generation at a time
    event = run.click(generate, inputs, [response, status], api_name="generate", **one_at_a_time)
    submitted = prompt.submit(generate, inputs, [response, status], **MODEL)
    # Cancelling closes the generator (it yields at least every HEARTBEAT_S, even mid-prefill); stream_generate
    # then stops the model before its next forward pass. The status line says so instead of "Generating ...".
    stop.click(lambda: STOPPED, None, status, cancels=[event, submitted], **QUICK)
    demo.load(lambda: gr.Dropdown(choices=model_choices()), None, model, **QUICK)
    if tab is not None:  # new checkpoints appear without a reload
        tab.select(lambda: gr.Dropdown(choices=model_choices()), None, model, **QUICK)
