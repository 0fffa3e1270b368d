"""Turn exceptions from screen handlers into short UI messages (gr.Error), never a traceback on the page."""

from __future__ import annotations

import logging

import gradio as gr

from lab.errors import LabError

log = logging.getLogger("ui")


def to_ui_error(error: BaseException, action: str) -> gr.Error:
    """A gr.Error to raise: a LabError's own message, or a one-line summary of anything else (logged in full)."""
    if isinstance(error, gr.Error):
        return error
    if isinstance(error, LabError):
        return gr.Error(str(error), title="Check your input", print_exception=False)
    log.exception("%s failed", action)
    first_line = (str(error).strip().splitlines() or [""])[0][:300]
    return gr.Error(f"{action} failed: {type(error).__name__}: {first_line}", title="Error", print_exception=False)
