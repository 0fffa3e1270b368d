"""Soft constraint taxonomy: enough types, every phrasing renders for every value, conflicts name real values."""

from __future__ import annotations

import random
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.constraints import all_types, get_type
from lab.constraints.soft import FREE_TEXT, SAMPLEABLE_SOFT_IDS, SOFT_PARAM_CONFLICTS
from lab.errors import LabError

SOFT = [t for t in all_types("soft") if t.id != FREE_TEXT]


def test_at_least_25_soft_types_with_cfbench_groups() -> None:
    assert len(SOFT) >= 25
    assert all(t.id.startswith("soft:") and t.kind == "soft" and t.check_fn is None for t in SOFT)
    groups = {t.group for t in SOFT}
    for expected in ("tone/emotion", "form/style", "audience", "authorial style", "role-play", "situation",
                     "content focus", "examples", "perspective", "formality", "humour"):  # fmt: skip
        assert expected in groups
    assert set(SAMPLEABLE_SOFT_IDS) == {t.id for t in SOFT}


@pytest.mark.parametrize("ctype", SOFT, ids=lambda t: t.id)
def test_every_phrasing_renders_for_every_choice(ctype) -> None:
    assert len(ctype.phrasings) >= 3
    (param,) = ctype.params
    assert param.kind == "choice" and len(param.choices) >= 3
    for value in param.choices:
        texts = {ctype.describe({param.name: value}, variant=v) for v in range(len(ctype.phrasings))}
        assert len(texts) == len(ctype.phrasings)  # phrasings really differ
        for text in texts:
            assert value in text and "{" not in text and text[-1] in ".!?"
            assert text[0].isupper()


@pytest.mark.parametrize("ctype", SOFT, ids=lambda t: t.id)
def test_sampling_is_valid_and_seeded(ctype) -> None:
    first = [ctype.sample_params(random.Random(seed)) for seed in range(20)]
    again = [ctype.sample_params(random.Random(seed)) for seed in range(20)]
    assert first == again
    assert len({tuple(p.values()) for p in first}) > 1


def test_bad_choice_names_the_field_and_allowed_values() -> None:
    with pytest.raises(LabError) as err:
        get_type("soft:tone").validate({"tone": "sarcastic-ish"})
    assert err.value.field == "soft:tone.tone"
    assert "'warm'" in str(err.value)
    with pytest.raises(LabError, match="unknown parameter"):
        get_type("soft:tone").validate({"mood": "warm"})


def test_soft_types_cannot_be_checked_by_code() -> None:
    with pytest.raises(LabError, match="soft scorer"):
        get_type("soft:humour").check("ha ha", {"style": "light-hearted"})


def test_free_text_is_the_users_own_words() -> None:
    ctype = get_type(FREE_TEXT)
    assert ctype.describe({"text": "  Sound like a {pirate}.  "}) == "Sound like a {pirate}."
    with pytest.raises(LabError) as err:
        ctype.validate({"text": "   "})
    assert err.value.field == "soft:free_text.text"
    assert FREE_TEXT not in SAMPLEABLE_SOFT_IDS


@given(st.text(alphabet=string.printable + "éü😀", min_size=1).filter(lambda s: s.strip()))
@settings(max_examples=60, deadline=None)
def test_free_text_describes_any_text(text: str) -> None:
    assert get_type(FREE_TEXT).describe({"text": text}) == text.strip()


def test_param_conflicts_name_real_types_and_values() -> None:
    for side_a, side_b in SOFT_PARAM_CONFLICTS:
        for type_id, values in (side_a, side_b):
            ctype = get_type(type_id)
            if values is not None:
                assert values <= set(ctype.params[0].choices), (type_id, values)


def test_type_level_conflicts_are_symmetric_and_known() -> None:
    ids = {t.id for t in all_types()}
    for t in SOFT:
        assert t.conflicts <= ids
        for other in t.conflicts:
            assert t.id in get_type(other).conflicts
    assert "soft:emotion" in get_type("soft:tone").conflicts
