"""Language detection with langdetect's exact answers, seeded (IFEval's language checks use langdetect).

Uses langdetect-rs (a Rust port giving bit-identical results, ~40x faster) when installed, else langdetect.
Both run on a private factory seeded with 0, so nothing global is changed.
"""

from __future__ import annotations

from typing import Any

from lab.constraints.text_stats import short_text_cache

SEED = 0

_factory: Any = None
_exception: type[Exception] = Exception


def _get_factory() -> Any:
    global _factory, _exception
    if _factory is None:
        try:
            import langdetect_rs as backend
            from langdetect_rs import detector_factory
        except ImportError:
            import langdetect as backend
            from langdetect import detector_factory
        factory = backend.DetectorFactory()
        factory.load_profile(detector_factory.PROFILES_DIRECTORY)
        factory.seed = SEED
        _exception = backend.LangDetectException
        _factory = factory
    return _factory


def backend_name() -> str:
    return type(_get_factory()).__module__.split(".")[0]


@short_text_cache(maxsize=1024)
def detect_language(text: str) -> str | None:
    """The ISO code langdetect.detect gives with seed 0 ("unknown" if no language is likely enough), or None
    where langdetect raises (no letters to go on); IFEval then counts the instruction as followed."""
    detector = _get_factory().create()
    detector.append(text)
    try:
        return detector.detect()
    except _exception:
        return None
