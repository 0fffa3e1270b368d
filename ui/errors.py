"""Turn exceptions from screen handlers into short UI messages (gr.Error), never a traceback on the page."""

from __future__ import annotations

import html
import logging

import gradio as gr

from lab.errors import LabError

log = logging.getLogger("ui")


def to_ui_error(error: BaseException, action: str) -> gr.Error:
    """A gr.Error to raise: a LabError's own message, or a one-line summary of anything else (logged in full).

    Gradio renders an error's message as HTML, and messages can echo user input (a parameter value, a path),
    so the text is escaped: it shows as typed and never becomes markup.
    """
    if isinstance(error, gr.Error):
        return error
    if isinstance(error, LabError):
        return gr.Error(_text(tidy(str(error))), title="Check your input", print_exception=False)
    log.exception("%s failed", action)
    first_line = (str(error).strip().splitlines() or [""])[0][:300]
    message = f"{action} failed: {type(error).__name__}: {first_line}"
    return gr.Error(_text(message), title="Error", print_exception=False)


def tidy(message: str) -> str:
    """One mention of each field: 'dataset: stage grpo: dataset: is required' -> 'stage grpo: dataset: is
    required' (layers that each prefix the field name, from the config check up to the pipeline)."""
    parts = message.split(": ")
    labels = []
    for i, part in enumerate(parts[:-1]):
        if len(part) > 40 or part.count(" ") > 1:
            break
        labels.append(i)
    keep = []
    for i, part in enumerate(parts):
        later = [parts[j] for j in labels if j > i]
        if i in labels and any(p == part or p.endswith("." + part) or p.endswith(" " + part) for p in later):
            continue
        keep.append(part)
    return ": ".join(keep)


def _text(message: str) -> str:
    return html.escape(message, quote=False)
