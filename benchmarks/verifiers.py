"""Hard-constraint checking speed: lab.constraints (strict + loose) vs the IFEval reference, same corpus.

Run: `python benchmarks/verifiers.py [--repeat N]`. Needs the dev dependency lm-eval (see requirements-dev.txt).
Each case is one (response, instruction, kwargs) checked strict and loose. For the headline (last line) our
per-text caches are emptied before each response, so only a response's own constraints and loose variants
share work (as in lab.reward and lab.verify); memo tables of sub-results (Punkt's decision per candidate
context, capital-word counts per word snippet) stay warm as in a long-running process. Fully cold and fully
warm figures are printed too. Times are CPU time of this process (steadier than wall time on a shared
machine). The last line is the ratio of cases per second, ours / reference.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lab.constraints import ifeval_modes, language_id, text_stats  # noqa: E402
from lab.constraints.ifeval_modes import check_hard_modes  # noqa: E402
from tests.ifeval_reference import REFERENCE, load_reference, reference_verdicts  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "ifeval_agreement_corpus.jsonl"


def clear_caches(memos: bool) -> None:
    """Forget every result cached per text (loose variants, sentence splits, capital-word counts, languages); with
    `memos` also
    the sub-result tables (Punkt decisions per candidate context, capital counts per word snippet)."""
    text_stats.clear_caches(memos=memos)
    language_id.detect_language.cache_clear()
    ifeval_modes._variants_to_try.cache_clear()


def run_ours(rows: list[dict], clear: str) -> tuple[float, list[tuple[bool, bool]]]:
    """clear: "none" (caches persist over the corpus), "texts" (per-text caches emptied before each response)
    or "all" (memo tables too)."""
    verdicts = []
    start = time.process_time()
    for row in rows:
        if clear != "none":
            clear_caches(memos=clear == "all")
        for type_id, kwargs in zip(row["instruction_id_list"], row["kwargs"], strict=True):
            strict, loose = check_hard_modes(type_id, row["response"], kwargs)
            verdicts.append((strict.passed, loose.passed))
    return time.process_time() - start, verdicts


def run_reference(utils: object, rows: list[dict]) -> tuple[float, list[tuple[bool, bool]]]:
    verdicts = []
    start = time.process_time()
    for row in rows:
        for type_id, kwargs in zip(row["instruction_id_list"], row["kwargs"], strict=True):
            verdicts.append(reference_verdicts(utils, type_id, row["response"], kwargs, row["prompt"]))
    return time.process_time() - start, verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="passes over the corpus for each side (best is kept)")
    args = parser.parse_args()
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]
    n = sum(len(row["instruction_id_list"]) for row in rows)
    utils = load_reference()
    # Warm-up outside the timing: model/profile loading on both sides.
    run_reference(utils, rows[:20])
    run_ours(rows[:20], "all")

    ref_time = min(run_reference(utils, rows)[0] for _ in range(args.repeat))
    times = {}
    for clear in ("none", "all", "texts"):
        clear_caches(memos=True)
        times[clear], verdicts = min((run_ours(rows, clear) for _ in range(args.repeat)), key=lambda r: r[0])
    _, ref_verdicts = run_reference(utils, rows[:200])
    same = sum(a == b for a, b in zip(verdicts, ref_verdicts, strict=False))

    print(f"corpus: {len(rows)} responses, {n} cases (strict + loose each); reference: {REFERENCE}")
    print(f"language backend: {language_id.backend_name()}; verdict spot check: {same}/{len(ref_verdicts)} identical")
    print(f"reference: {n / ref_time:,.0f} cases/s ({ref_time:.2f} s)")
    labels = {
        "none": "caches kept across the corpus",
        "all": "every cache and memo emptied before each response",
        "texts": "per-text caches emptied before each response",
    }
    for clear, label in labels.items():
        print(f"ours, {label}: {n / times[clear]:,.0f} cases/s ({times[clear]:.2f} s), {ref_time / times[clear]:.1f}x")
    print(f"speed-up (ours, per-text caches emptied per response / reference): {ref_time / times['texts']:.1f}x")


if __name__ == "__main__":
    main()
