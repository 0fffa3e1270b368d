"""The independent IFEval reference (lm-eval's copy of Google's checker), loaded offline for agreement tests.

Only lm_eval/tasks/ifeval is imported: the harness's package __init__ pulls in heavy dependencies the checker
does not need (install: `pip install --no-deps lm-eval==0.4.13 immutabledict==4.3.1`).
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import types
from pathlib import Path
from typing import Any

from lab.constraints.text_stats import use_vendored_nltk_data

REFERENCE = "lm-eval==0.4.13 (lm_eval/tasks/ifeval)"


def load_reference() -> Any:
    """The reference's utils module (test_instruction_following_strict/loose); ImportError if not installed.

    Its three files are imported under temporary stand-ins for the lm_eval packages, and sys.modules is put back
    afterwards, so a later `import lm_eval` (the full harness, where installed) is unaffected.
    """
    spec = importlib.util.find_spec("lm_eval")
    if spec is None or spec.origin is None:
        raise ImportError("lm-eval is not installed")
    root = Path(spec.origin).parent
    if not (root / "tasks" / "ifeval" / "instructions.py").exists():
        raise ImportError("lm-eval has no tasks/ifeval")
    use_vendored_nltk_data()  # so its import-time punkt_tab check finds the data instead of downloading
    from langdetect import DetectorFactory

    DetectorFactory.seed = 0  # IFEval leaves langdetect unseeded; seeding makes its verdicts reproducible
    logging.getLogger("lm_eval.tasks.ifeval.instructions").setLevel(logging.CRITICAL)  # langdetect failures
    saved = {name: module for name, module in sys.modules.items() if name == "lm_eval" or name.startswith("lm_eval.")}
    try:
        for name in saved:
            del sys.modules[name]
        for name, folder in (
            ("lm_eval", root),
            ("lm_eval.tasks", root / "tasks"),
            ("lm_eval.tasks.ifeval", root / "tasks" / "ifeval"),
        ):
            package = types.ModuleType(name)
            package.__path__ = [str(folder)]
            sys.modules[name] = package
        return importlib.import_module("lm_eval.tasks.ifeval.utils")
    finally:
        for name in [n for n in sys.modules if n == "lm_eval" or n.startswith("lm_eval.")]:
            del sys.modules[name]
        sys.modules.update(saved)


def reference_verdicts(
    utils: Any, type_id: str, response: str, kwargs: dict[str, Any], prompt: str = ""
) -> tuple[bool, bool]:
    """(strict, loose) verdicts of the reference for one instruction on one response."""
    example = utils.InputExample(key=0, instruction_id_list=[type_id], prompt=prompt, kwargs=[dict(kwargs)])
    strict = utils.test_instruction_following_strict(example, response).follow_instruction_list[0]
    loose = utils.test_instruction_following_loose(example, response).follow_instruction_list[0]
    return bool(strict), bool(loose)
