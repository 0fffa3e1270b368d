"""Hard constraint types: IFEval's 25 (same ids, kwargs and check semantics as Google's reference) and IFBench's 58
test types (family "ifbench": AllenAI's ids and kwargs, checked as AllenAI's current IFBench checkers do).

Importing this package registers them; `CONFLICTS` maps each IFEval id to the ids it must not be combined with,
`IFBENCH_CONFLICTS` each IFBench id.
"""

from lab.constraints.hard import (  # noqa: F401
    case_language,
    combination,
    content,
    formats,
    ifbench_count,
    ifbench_custom,
    ifbench_format,
    ifbench_ratio,
    ifbench_repeat,
    ifbench_sentence,
    ifbench_words,
    keywords,
    length,
)
from lab.constraints.hard.conflicts import CONFLICTS, HARD_IDS
from lab.constraints.hard.ifbench_conflicts import IFBENCH_CONFLICTS, IFBENCH_IDS

__all__ = ["CONFLICTS", "HARD_IDS", "IFBENCH_CONFLICTS", "IFBENCH_IDS"]
