"""Instance settings from the environment: login (LAB_AUTH), read-only demo mode (LAB_READ_ONLY), job cap.

Every screen that launches or deletes asks `check_can_submit` / `check_can_delete`; the buttons are also
disabled in read-only mode, but the server-side check is what counts (a crafted API call gets the same refusal).
The queue cap is enforced where jobs are inserted (training.jobs → storage), in the same transaction.
"""

from __future__ import annotations

import os

from lab.errors import LabError

# read_only: LAB_READ_ONLY=1, a public demo; generating and scoring work, launching jobs and deleting do not.
from lab.model_access import TRUE_WORDS, read_only  # noqa: F401 (one switch for lab and ui)
from training.jobs import DEFAULT_MAX_QUEUED, max_queued  # noqa: F401 (app.py and tests read them here)


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


def check_can_submit() -> None:
    """Refuse (LabError) in read-only mode. The queue cap is checked atomically when the jobs are inserted."""
    if read_only():
        raise LabError("this instance is read-only (LAB_READ_ONLY=1): launching jobs is disabled", field="read_only")


def check_can_change() -> None:
    """Refuse deleting, cancelling and resuming in read-only mode."""
    if read_only():
        raise LabError("this instance is read-only (LAB_READ_ONLY=1): changing runs and jobs is disabled", "read_only")
