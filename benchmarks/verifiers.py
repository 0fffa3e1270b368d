"""Hard-constraint checking speed: lab.constraints (strict + loose) vs each family's reference, same corpora.

Run: `python benchmarks/verifiers.py [--repeat N] [--family ifeval|ifbench|both]`. IFEval's 25 types run against
lm-eval's checker on tests/data/ifeval_agreement_corpus.jsonl, IFBench's 58 against if-verifiable's on
tests/data/ifbench_agreement_corpus.jsonl (dev dependencies, see requirements-dev.txt).
Each case is one (response, instruction, kwargs) checked strict and loose. For the headline (last line) our
per-text caches are emptied before each response, so only a response's own constraints and loose variants
share work (as in lab.reward and lab.verify); memo tables of sub-results (Punkt's decision per candidate
context, capital-word counts per word snippet) stay warm as in a long-running process. Fully cold and fully
warm figures are printed too. Times are CPU time of this process (steadier than wall time on a shared
machine). Each family ends with its ratio of cases per second, ours / reference; the last line is IFBench's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lab.constraints import ifeval_modes, language_id, text_stats  # noqa: E402
from lab.constraints.hard import ifbench_ratio, ifbench_tagger, ifbench_text, ifbench_words  # noqa: E402
from lab.constraints.ifeval_modes import check_hard_modes  # noqa: E402

CORPORA = {
    "ifeval": ROOT / "tests" / "data" / "ifeval_agreement_corpus.jsonl",
    "ifbench": ROOT / "tests" / "data" / "ifbench_agreement_corpus.jsonl",
}


def clear_caches(memos: bool) -> None:
    """Forget every result cached per text (loose variants, sentence splits, capital-word counts, languages); with
    `memos` also
    the sub-result tables (Punkt decisions per candidate context, capital counts per word snippet)."""
    text_stats.clear_caches(memos=memos)
    language_id.detect_language.cache_clear()
    ifeval_modes._variants_to_try.cache_clear()
    for per_text in (*ifbench_text.PER_TEXT_CACHES, ifbench_tagger.first_tag, ifbench_ratio.word_trigrams):
        per_text.cache_clear()
    if memos:  # per-word, per-reference-text, per-first-tokens and per-kwargs tables
        ifbench_words.syllable_parity.cache_clear()
        ifbench_ratio._reference_trigrams.cache_clear()
        ifbench_tagger._tag_of_first.cache_clear()
        ifeval_modes._VALIDATED.clear()


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


def run_reference(verdicts_of: Any, rows: list[dict]) -> tuple[float, list[tuple[bool, bool]]]:
    """verdicts_of(type_id, response, kwargs, prompt) -> (strict, loose), over every case of the corpus."""
    verdicts = []
    start = time.process_time()
    for row in rows:
        for type_id, kwargs in zip(row["instruction_id_list"], row["kwargs"], strict=True):
            verdicts.append(verdicts_of(type_id, row["response"], kwargs, row["prompt"]))
    return time.process_time() - start, verdicts


def response_kind(source: str) -> str:
    """A corpus row's kind from its source: "smollm2/3" a model answer, "smollm2/3/lower" a reshaped copy,
    "crafted/7" a crafted text."""
    if source.startswith("crafted/"):
        return "crafted"
    return "model answer" if source.count("/") == 1 else "reshaped copy"


def load_family(family: str) -> tuple[str, Any]:
    """(reference name, verdict function) of one family's reference; ImportError if it is not installed."""
    if family == "ifeval":
        from tests.ifeval_reference import REFERENCE, load_reference, reference_verdicts
    else:
        from tests.ifbench_reference import REFERENCE, load_reference, reference_verdicts
    reference = load_reference()
    return REFERENCE, lambda type_id, response, kwargs, prompt: reference_verdicts(
        reference, type_id, response, kwargs, prompt
    )


def bench(family: str, repeat: int) -> float:
    """Print one family's figures; returns its speed-up (ours with per-text caches emptied / reference)."""
    rows = [json.loads(line) for line in CORPORA[family].read_text(encoding="utf-8").splitlines() if line]
    n = sum(len(row["instruction_id_list"]) for row in rows)
    name, reference = load_family(family)
    # Warm-up outside the timing: model/profile loading on both sides.
    run_reference(reference, rows[:20])
    run_ours(rows[:20], "all")

    ref_time = min(run_reference(reference, rows)[0] for _ in range(repeat))
    times = {}
    for clear in ("none", "all", "texts"):
        clear_caches(memos=True)
        times[clear], verdicts = min((run_ours(rows, clear) for _ in range(repeat)), key=lambda r: r[0])
    _, ref_verdicts = run_reference(reference, rows[:200])
    same = sum(a == b for a, b in zip(verdicts, ref_verdicts, strict=False))

    print(f"[{family}] corpus: {len(rows)} responses, {n} cases (strict + loose each); reference: {name}")
    if family == "ifeval":
        print(f"[{family}] language backend: {language_id.backend_name()}")
    print(f"[{family}] verdict spot check: {same}/{len(ref_verdicts)} identical")
    print(f"[{family}] reference: {n / ref_time:,.0f} cases/s ({ref_time:.2f} s)")
    labels = {
        "none": "caches kept across the corpus",
        "all": "every cache and memo emptied before each response",
        "texts": "per-text caches emptied before each response",
    }
    for clear, label in labels.items():
        speed = f"{n / times[clear]:,.0f} cases/s ({times[clear]:.2f} s), {ref_time / times[clear]:.1f}x"
        print(f"[{family}] ours, {label}: {speed}")
    # The same ratio by kind of response: real model answers, copies reshaped to satisfy one type, crafted texts.
    for kind in ("model answer", "reshaped copy", "crafted"):
        part = [row for row in rows if response_kind(row["source"]) == kind]
        if part:
            part_ratio = run_reference(reference, part)[0] / min(run_ours(part, "texts")[0] for _ in range(repeat))
            cases = sum(len(row["instruction_id_list"]) for row in part)
            print(f"[{family}] {kind} rows only ({len(part)} responses, {cases} cases): {part_ratio:.1f}x")
    return ref_time / times["texts"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="passes over the corpus for each side (best is kept)")
    parser.add_argument("--family", choices=("ifeval", "ifbench", "both"), default="both", help="which types to time")
    args = parser.parse_args()
    families = ("ifeval", "ifbench") if args.family == "both" else (args.family,)
    ratios = {family: bench(family, args.repeat) for family in families}
    for family, ratio in ratios.items():  # IFBench's last when both run
        print(f"speed-up {family} (ours, per-text caches emptied per response / reference): {ratio:.1f}x")


if __name__ == "__main__":
    main()
