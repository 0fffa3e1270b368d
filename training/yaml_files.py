"""Reading a YAML config or preset file: any problem becomes one LabError line naming the file (and line)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab.errors import LabError


def read_yaml(path: Path, field: str) -> Any:
    """The parsed file; unreadable files and malformed YAML raise LabError(field=field) in one line."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise LabError(f"cannot read {path}: {error.strerror or error}", field=field) from None
    except UnicodeDecodeError as error:
        raise LabError(f"{path} is not UTF-8 text (byte {error.start})", field=field) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise LabError(f"{path}: not valid YAML {_where(error)}", field=field) from None


def _where(error: Exception) -> str:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    if mark is None:
        return f"({problem})"
    return f"at line {mark.line + 1}, column {mark.column + 1} ({problem})"
