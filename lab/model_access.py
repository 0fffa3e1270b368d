"""Which models may load, and with whose code: `trust_remote_code` needs the operator's LAB_ALLOW_REMOTE_CODE=1,
and a read-only demo (LAB_READ_ONLY=1) loads only the bundled model and folders the lab itself keeps.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from lab.bundled_model import BUNDLED_NAME
from lab.errors import LabError
from lab.paths import models_dir, runs_dir

TRUE_WORDS = {"1", "true", "yes", "on"}
REMOTE_CODE_ENV = "LAB_ALLOW_REMOTE_CODE"
READ_ONLY_ENV = "LAB_READ_ONLY"
DEMO_MODELS = (
    f"the bundled model 'bundled:{BUNDLED_NAME}', a trained checkpoint from the menu, "
    "or a checkpoint folder under $LAB_HOME/models"
)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in TRUE_WORDS


def read_only() -> bool:
    """LAB_READ_ONLY=1: a public demo (the same switch as ui.settings.read_only)."""
    return _env_flag(READ_ONLY_ENV)


def remote_code_allowed() -> bool:
    """The operator opted in with LAB_ALLOW_REMOTE_CODE=1, and this is not a read-only demo."""
    return _env_flag(REMOTE_CODE_ENV) and not read_only()


def check_remote_code(trust_remote_code: bool) -> None:
    """Refuse trust_remote_code=True (LabError, field trust_remote_code) unless the operator allowed it."""
    if not trust_remote_code or remote_code_allowed():
        return
    if read_only():
        reason = "this is a read-only demo (LAB_READ_ONLY=1), which never runs a checkpoint's own code"
    else:
        reason = f"the operator has not allowed it: start the app or worker with {REMOTE_CODE_ENV}=1"
    raise LabError(
        f"trust_remote_code would run a checkpoint's own Python code, and {reason}. Leave it off.",
        field="trust_remote_code",
    )


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or path.is_relative_to(folder)


def _upload_folders() -> list[Path]:
    """Where Gradio keeps uploads and temp files: never a demo model, even if an operator put them in $LAB_HOME."""
    folders = [Path(tempfile.gettempdir()) / "gradio"]
    if os.environ.get("GRADIO_TEMP_DIR"):
        folders.append(Path(os.environ["GRADIO_TEMP_DIR"]))
    return [folder.expanduser().resolve() for folder in folders]


def check_demo_model(spec: str, is_registered: Callable[[Path], bool] | None = None, field: str = "model") -> None:
    """In read-only mode, refuse (LabError naming `field`) all but the bundled model, a folder under
    $LAB_HOME/models and a registered checkpoint; outside read-only mode, do nothing.

    Decided on the spec's text, before any file is read or the hub contacted. Paths are resolved first, so a
    symlink or `..` cannot lead out. `is_registered(folder)` says whether storage knows the folder as a
    checkpoint; without it (lab cannot read storage) any folder under $LAB_HOME/runs counts, as jobs write there.
    """
    if not read_only():
        return
    text = (spec or "").strip()
    if text.lower() in {"bundled", f"bundled:{BUNDLED_NAME}".lower()}:
        return
    refusal = LabError(f"this is a read-only demo: it loads only {DEMO_MODELS}, not {text!r}.", field=field)
    if not text or not Path(text).expanduser().is_absolute():
        raise refusal  # hub ids and relative paths
    folder = Path(text).expanduser().resolve()
    if any(_inside(folder, upload) for upload in _upload_folders()):
        raise refusal
    if _inside(folder, models_dir().resolve()) and folder != models_dir().resolve():
        return
    registered = is_registered(folder) if is_registered else _inside(folder, runs_dir().resolve())
    if not registered:
        raise refusal
