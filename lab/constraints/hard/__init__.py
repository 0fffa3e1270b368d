"""The 25 IFEval hard constraint types (same ids, kwargs and check semantics as Google's reference).

Importing this package registers them; `CONFLICTS` maps each id to the ids it must not be combined with.
"""

from lab.constraints.hard import case_language, combination, content, formats, keywords, length  # noqa: F401
from lab.constraints.hard.conflicts import CONFLICTS, HARD_IDS

__all__ = ["CONFLICTS", "HARD_IDS"]
