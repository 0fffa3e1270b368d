"""Grouping prompts into batches of similar length for CTranslate2.

CTranslate2 reads a batch's prompts at once only up to the shortest one; the rest of each prompt is fed one step
at a time, like generated tokens. A batch therefore costs about (length spread + new tokens) decoding steps, and a
step costs a fixed part (reading the weights) plus a part per sequence. `length_buckets` picks the contiguous
groups of the length-sorted prompts that minimise that sum (dynamic programming, O(n * max_size)).
"""

from __future__ import annotations

from collections.abc import Sequence

# A decoding step's fixed cost, in sequences' worth of per-sequence cost (weights read once per step).
STEP_OVERHEAD = 12.0


def length_buckets(
    lengths: Sequence[int], new_tokens: int, max_size: int, overhead: float = STEP_OVERHEAD
) -> list[list[int]]:
    """Indices into `lengths`, grouped into batches of at most max_size, shortest prompts first."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    sorted_lengths = [lengths[i] for i in order]
    n, size = len(order), max(1, int(max_size))
    best = [0.0] + [float("inf")] * n
    start = [0] * (n + 1)
    for end in range(1, n + 1):
        for begin in range(max(0, end - size), end):
            steps = sorted_lengths[end - 1] - sorted_lengths[begin] + new_tokens
            cost = best[begin] + steps * (overhead + end - begin)
            if cost < best[end]:
                best[end], start[end] = cost, begin
    groups = []
    end = n
    while end > 0:
        groups.append(order[start[end] : end])
        end = start[end]
    return groups[::-1]
