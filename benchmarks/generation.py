"""Fast generation (lab.generation's automatic engine) vs plain transformers `generate` (fp32, static batches of 16)
on the same held-out prompts, greedy, same max_new_tokens, in one run.

    LAB_HOME=/tmp/scratch .venv/bin/python benchmarks/generation.py [--prompts 64] [--max-new-tokens 256]

Both engines get exactly the same prompt ids (lab.generation.prompt_token_ids) and stop on the same end ids.
Tokens/s = generated tokens (end token excluded) / wall seconds; the CPU seconds of this process are printed too
(less disturbed by other programs on a shared machine). Also printed: how many greedy outputs are identical
token for token, and the IFEval-style accuracies of both sets of answers (the first N hard held-out prompts).
Last line: the speed ratio fast/plain.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(function, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def accuracies(items, loaded, completions, max_new_tokens: int) -> dict[str, dict]:  # noqa: ANN001
    """IFEval's four accuracies (value, 95 % bootstrap interval) of one set of answers."""
    from evals.metrics import compute_metrics
    from lab.reward import breakdown_batch

    texts = loaded.tokenizer.batch_decode([list(c.ids) for c in completions], skip_special_tokens=True)
    breakdowns = breakdown_batch([item.row() for item in items], texts, None, loose=True)
    metrics = compute_metrics(items, breakdowns, [len(c.ids) for c in completions], max_new_tokens)
    return metrics["ifeval"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bundled")
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--plain-batch-size", type=int, default=16, help="today's static batches")
    parser.add_argument("--fast-batch-size", type=int, default=64, help="prompts per call (evaluate's default)")
    parser.add_argument("--also", default="", help="other engines to time in the same run, e.g. ctranslate2")
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ["LAB_HOME"] = os.environ.get("LAB_HOME") or tempfile.mkdtemp(prefix="bench_generation_")

    from evals.suites import heldout_if_suite
    from lab.generation import Sampling, engine_for, generate_completions, prompt_token_ids
    from lab.models import load_model

    items = [item for item in heldout_if_suite().items if item.part == "hard"][: args.prompts]
    loaded = load_model(args.model)
    ids = prompt_token_ids(loaded.tokenizer, [item.prompt for item in items])
    greedy = Sampling(max_new_tokens=args.max_new_tokens)
    engine, convert_s, _ = timed(engine_for, loaded)
    fast_batch = args.fast_batch_size
    print(
        f"fast engine: {engine.name} ({getattr(engine, 'compute', 'fp32')}, {fast_batch} prompts per call); "
        f"ready in {convert_s:.1f} s"
    )
    # Warm-ups outside the clock (first calls allocate and pick kernels).
    generate_completions(loaded, ids[:2], Sampling(4), 2, choice="transformers")
    generate_completions(loaded, ids[:2], Sampling(4), 2)

    plain, plain_s, plain_cpu = timed(generate_completions, loaded, ids, greedy, args.plain_batch_size, "transformers")
    fast, fast_s, fast_cpu = timed(generate_completions, loaded, ids, greedy, fast_batch)
    for other in [name for name in args.also.split(",") if name]:
        generate_completions(loaded, ids[:2], Sampling(4), 2, choice=other)
        extra, extra_s, _ = timed(generate_completions, loaded, ids, greedy, fast_batch, other)
        tokens = sum(len(c.ids) for c in extra)
        alike = sum(a.ids == b.ids for a, b in zip(plain, extra, strict=True))
        print(f"{other}: {tokens / extra_s:.1f} tok/s, identical to plain {alike}/{len(ids)}")
    plain_tokens = sum(len(c.ids) for c in plain)
    fast_tokens = sum(len(c.ids) for c in fast)
    same = sum(a.ids == b.ids for a, b in zip(plain, fast, strict=True))
    print(f"prompts: {len(ids)} held-out (hard), max_new_tokens {args.max_new_tokens}, greedy, {os.cpu_count()} CPUs")
    for name, tokens, wall, cpu in (
        ("plain", plain_tokens, plain_s, plain_cpu),
        ("fast", fast_tokens, fast_s, fast_cpu),
    ):
        print(f"{name:>5}: {tokens} tokens in {wall:.1f} s wall ({cpu:.1f} s CPU) = {tokens / wall:.1f} tok/s")
    print(f"identical greedy outputs: {same}/{len(ids)} = {same / len(ids):.1%}")
    plain_acc = accuracies(items, loaded, plain, args.max_new_tokens)
    fast_acc = accuracies(items, loaded, fast, args.max_new_tokens)
    for key, p in plain_acc.items():
        f = fast_acc[key]
        print(
            f"  {key}: plain {p['value']:.3f} [{p['low']:.3f}, {p['high']:.3f}]  "
            f"fast {f['value']:.3f} [{f['low']:.3f}, {f['high']:.3f}]"
        )
    print(f"CPU-time ratio plain/fast (per token): {(plain_cpu / plain_tokens) / (fast_cpu / fast_tokens):.2f}")
    print(f"tokens_per_s_ratio {(fast_tokens / fast_s) / (plain_tokens / plain_s):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
