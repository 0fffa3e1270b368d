"""Instance settings from the environment: login (LAB_AUTH), read-only demo mode (LAB_READ_ONLY), job cap.

Every screen that launches or deletes asks `check_can_submit` / `check_can_delete`; the buttons are also
disabled in read-only mode, but the server-side check is what counts (a crafted API call gets the same refusal).
"""

from __future__ import annotations

import os

from lab.errors import LabError

DEFAULT_MAX_QUEUED = 6  # two full dataset → RM → GRPO pipelines waiting behind the running job
TRUE_WORDS = {"1", "true", "yes", "on"}


def read_only() -> bool:
    """LAB_READ_ONLY=1: a public demo; generating and scoring work, launching jobs and deleting do not."""
    return os.environ.get("LAB_READ_ONLY", "").strip().lower() in TRUE_WORDS


def auth_pairs() -> list[tuple[str, str]] | None:
    """LAB_AUTH=user:password → [(user, password)] for gradio's login page; unset → None (no login).

    The password is everything after the first colon, so it may itself contain colons.
    """
    raw = os.environ.get("LAB_AUTH", "")
    if not raw.strip():
        return None
    user, sep, password = raw.partition(":")
    if not sep or not user.strip() or not password:
        raise LabError("must look like user:password (both non-empty)", field="LAB_AUTH")
    return [(user.strip(), password)]


def max_queued() -> int:
    """LAB_MAX_QUEUED: how many jobs may wait in this instance's queue at once (default 6)."""
    raw = os.environ.get("LAB_MAX_QUEUED", "").strip()
    if not raw:
        return DEFAULT_MAX_QUEUED
    try:
        value = int(raw)
    except ValueError:
        raise LabError(f"must be a whole number >= 1, got {raw!r}", field="LAB_MAX_QUEUED") from None
    if value < 1:
        raise LabError(f"must be a whole number >= 1, got {value}", field="LAB_MAX_QUEUED")
    return value


def queued_jobs() -> int:
    from storage import init_db
    from storage.jobs import status_counts

    init_db()
    return int(status_counts().get("queued", 0))


def check_can_submit(new_jobs: int = 1) -> None:
    """Refuse (LabError) in read-only mode or when `new_jobs` more would exceed the queue cap."""
    if read_only():
        raise LabError("this instance is read-only (LAB_READ_ONLY=1): launching jobs is disabled", field="read_only")
    cap, waiting = max_queued(), queued_jobs()
    if waiting + new_jobs > cap:
        raise LabError(
            f"{waiting} job(s) already queued and this adds {new_jobs}; the cap is {cap} (LAB_MAX_QUEUED). "
            "Wait for the queue to drain or cancel a queued job.",
            field="queue",
        )


def check_can_change() -> None:
    """Refuse deleting, cancelling and resuming in read-only mode."""
    if read_only():
        raise LabError("this instance is read-only (LAB_READ_ONLY=1): changing runs and jobs is disabled", "read_only")
