"""Where IF-Lab keeps its files: $LAB_HOME (database, models, runs, logs)."""

from __future__ import annotations

import os
from pathlib import Path

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
