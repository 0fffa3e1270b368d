"""Where IF-Lab keeps its files: $LAB_HOME (database, models, runs, logs)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from lab.errors import LabError

SPACES_DATA = Path("/data")


def lab_home() -> Path:
    """$LAB_HOME if set; /data/lab when /data is a writable folder (Spaces storage); else ./lab_data."""
    explicit = os.environ.get("LAB_HOME")
    if explicit:
        home = Path(explicit).expanduser()
    elif SPACES_DATA.is_dir() and os.access(SPACES_DATA, os.W_OK):
        home = SPACES_DATA / "lab"
    else:
        home = Path("lab_data")
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home


def models_dir() -> Path:
    path = lab_home() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def runs_dir() -> Path:
    path = lab_home() / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def logs_dir() -> Path:
    path = lab_home() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_path() -> Path:
    return lab_home() / "lab.sqlite"


# A name that becomes part of a file name: no separators, no "..", no leading dot or dash.
SLUG_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
SLUG_RULE = "1-100 letters, digits, '.', '_' or '-', starting with a letter or digit, without '..'"


def check_slug(value: str, field: str) -> str:
    """`value` if it is safe to join into a path (see SLUG_RULE); else a LabError naming `field`."""
    text = str(value)
    if not SLUG_PATTERN.fullmatch(text) or ".." in text:
        raise LabError(f"must be {SLUG_RULE}; got {text!r}", field=field)
    return text


def confined(path: Path | str, root: Path | str) -> Path:
    """`path` resolved, if it lies inside `root` (symlinks followed); else a LabError (field "path")."""
    resolved, base = Path(path).resolve(), Path(root).resolve()
    if not resolved.is_relative_to(base):
        raise LabError(f"{str(path)!r} resolves outside {str(base)!r}; jobs write only inside their run folder", "path")
    return resolved
