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
        return gr.Error(_text(str(error)), title="Check your input", print_exception=False)
    log.exception("%s failed", action)
    first_line = (str(error).strip().splitlines() or [""])[0][:300]
    message = f"{action} failed: {type(error).__name__}: {first_line}"
    return gr.Error(_text(message), title="Error", print_exception=False)


def _text(message: str) -> str:
    return html.escape(message, quote=False)
