"""lab.generation.batching: prompts grouped into batches of similar length (pure, no model)."""

from __future__ import annotations

from lab.generation.batching import length_buckets


def test_every_prompt_lands_in_exactly_one_batch_of_at_most_max_size() -> None:
    lengths = [70, 12, 55, 12, 300, 56, 57, 13, 90, 91]
    groups = length_buckets(lengths, new_tokens=64, max_size=3)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    assert all(1 <= len(g) <= 3 for g in groups)
    # Batches hold neighbours in length order: no batch spans another batch's lengths.
    spans = [(min(lengths[i] for i in g), max(lengths[i] for i in g)) for g in groups]
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))


def test_equal_lengths_share_one_batch_and_an_outlier_gets_its_own() -> None:
    assert length_buckets([40] * 8, new_tokens=64, max_size=16) == [list(range(8))]
    groups = length_buckets([40] * 8 + [400], new_tokens=64, max_size=16)
    assert groups == [list(range(8)), [8]]  # 360 extra prompt steps for 8 rows cost more than a second batch


def test_short_answers_make_length_spread_matter_more() -> None:
    lengths = [20, 21, 22, 23, 60, 61, 62, 63]
    assert len(length_buckets(lengths, new_tokens=2000, max_size=8)) == 1
    assert len(length_buckets(lengths, new_tokens=4, max_size=8)) == 2
