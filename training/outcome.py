"""How a job ended when the database could not be told: a side file next to the job log, and disk-full wording.

`logs/job-N.outcome.json` holds the final status and message a process failed to record (disk full, I/O
error); the worker, or whoever recovers dead jobs later, records it instead of calling the job "gone".
"""

from __future__ import annotations

import errno
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

EXIT_UNRECORDED = 74  # a job process's exit code when its end is in the outcome file, not in the database
# Written into at the start of a job and filled in place on failure: a full disk may refuse new blocks.
_RESERVE_BYTES = 64 * 1024
_DISK_FULL_TEXTS = ("database or disk is full", "iostream error", "pytorchstreamwriter failed writing file")


@dataclass(frozen=True)
class Outcome:
    status: str
    message: str | None = None
    traceback: str | None = None
    result: dict[str, Any] | None = None
    exit_code: int | None = None


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and all(exc is not e for e in seen):
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def disk_full_cause(exc: BaseException) -> BaseException | None:
    """The exception in exc's chain that says the disk is full (ENOSPC, EDQUOT, SQLite's SQLITE_FULL, torch's
    stream-writer failure), or None. The deepest such exception: it has the plainest words."""
    found = None
    for error in _chain(exc):
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            found = error
        elif any(text in str(error).lower() for text in _DISK_FULL_TEXTS):
            found = error
    return found


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    line = text[0] if text else type(error).__name__
    if isinstance(error, OSError) and error.strerror:
        line = error.strerror + (f": {error.filename}" if error.filename else "")
    return line[:300]


def describe_failure(exc: BaseException, doing: str | None = None) -> str:
    """One line for a job's error message. Every kind of full disk reads
    `disk full while saving checkpoint-10 (<the original error>)`; anything else `Type: message`."""
    cause = disk_full_cause(exc)
    if cause is None:
        return f"{type(exc).__name__}: {exc}"
    if doing is None:
        filename = next((e.filename for e in _chain(exc) if isinstance(e, OSError) and e.filename), None)
        doing = f"writing {filename}" if filename else "writing"
    return f"disk full while {doing} ({_short(cause)})"


def outcome_path(log_path: str | Path) -> Path:
    """logs/job-7.log -> logs/job-7.outcome.json"""
    path = Path(log_path)
    return path.with_name(path.name.removesuffix(".log") + ".outcome.json")


def _reserve_path(log_path: str | Path) -> Path:
    return outcome_path(log_path).with_suffix(".reserve")


def reserve(log_path: str | Path) -> None:
    """Set aside room for the outcome file while the disk still has some (best effort)."""
    try:
        _reserve_path(log_path).write_bytes(b" " * _RESERVE_BYTES)
    except OSError:
        pass


def write_outcome(log_path: str | Path, outcome: Outcome) -> bool:
    """Keep `outcome` beside the job log, in the reserved space when there is some; False if even that failed."""
    target = outcome_path(log_path)
    data = json.dumps({**asdict(outcome), "written_at": time.time()}, default=str).encode()
    if len(data) > _RESERVE_BYTES:  # a long traceback must not cost the message
        data = json.dumps({**asdict(outcome), "traceback": (outcome.traceback or "")[-8000:]}, default=str).encode()
    spare = _reserve_path(log_path)
    try:
        if spare.is_file():
            with spare.open("r+b") as handle:  # overwrite blocks the file already owns
                handle.write(data)
                handle.truncate(len(data))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(spare, target)
        else:
            temporary = target.with_suffix(".tmp")
            temporary.write_bytes(data)
            os.replace(temporary, target)
        return True
    except OSError:
        return False


def read_outcome(log_path: str | Path | None) -> Outcome | None:
    """The outcome a process left for the job, or None (no file, or not readable JSON)."""
    if not log_path:
        return None
    try:
        data = json.loads(outcome_path(log_path).read_text(encoding="utf-8"))
        return Outcome(
            status=str(data["status"]),
            message=data.get("message"),
            traceback=data.get("traceback"),
            result=data.get("result"),
            exit_code=data.get("exit_code"),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def clear(log_path: str | Path | None) -> None:
    """Remove the outcome file and the reserve once the database holds the job's end."""
    if not log_path:
        return
    for path in (outcome_path(log_path), _reserve_path(log_path)):
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass
