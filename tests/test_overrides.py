"""`--set` overrides: one parser (training/overrides.py) behind `training submit|run` and `training pipeline`."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.errors import LabError
from training import overrides
from training.cli import _read_config, main
from training.pipeline import STAGES, _parse_sets, main_pipeline

RAW_VALUES = ["3", "0.5", "false", "[a, b]", "{x: 1}", "", "null", "[x", "run:7", "some text", "'3'"]


def test_values_are_yaml_or_the_text_itself() -> None:
    parsed = [overrides.parse_value(raw) for raw in RAW_VALUES]
    assert parsed == [3, 0.5, False, ["a", "b"], {"x": 1}, None, None, "[x", "run:7", "some text", "3"]
    assert overrides.parse_sets(["steps=3", " name = my run ", "steps=4"]) == {"steps": 4, "name": "my run"}
    assert overrides.parse_stage_sets(["grpo.steps=3", "dataset . seed=1"], STAGES) == {
        "grpo": {"steps": 3},
        "dataset": {"seed": 1},
    }


@pytest.mark.parametrize("raw", RAW_VALUES)
def test_submit_and_pipeline_read_a_value_the_same_way(raw: str) -> None:
    assert _read_config(None, [f"field={raw}"]) == {"field": overrides.parse_value(raw)}
    assert _parse_sets([f"grpo.field={raw}"]) == {"grpo": {"field": overrides.parse_value(raw)}}


def test_submit_and_pipeline_call_the_one_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real = overrides.parse_value

    def spy(raw: str):  # noqa: ANN202
        seen.append(raw)
        return real(raw)

    monkeypatch.setattr(overrides, "parse_value", spy)
    _read_config(None, ["steps=3"])
    _parse_sets(["grpo.steps=4"])
    assert seen == ["3", "4"]


@pytest.mark.parametrize(("item", "pipeline"), [("steps", False), ("=3", False), ("steps=3", True), ("x.y=1", True)])
def test_a_malformed_item_is_refused_under_the_set_field(item: str, pipeline: bool) -> None:
    with pytest.raises(LabError) as error:
        _parse_sets([item]) if pipeline else _read_config(None, [item])
    assert error.value.field == "set" and str(error.value).startswith("set: --set needs ")
    assert str(error.value).endswith(f"got {item!r}")
    if pipeline:
        assert "STAGE.FIELD=VALUE with STAGE in dataset, reward_model, grpo" in str(error.value)


def test_both_commands_print_the_same_kind_of_one_line_error(db: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["submit", "grpo", "--set", "steps"]) == 2
    submit_err = capsys.readouterr().err
    assert main_pipeline(["cpu-smoke", "--set", "steps"]) == 2
    pipeline_err = capsys.readouterr().err
    assert submit_err == "error: set: --set needs key=value, got 'steps'\n"
    stages = ", ".join(STAGES)
    assert pipeline_err == f"error: set: --set needs STAGE.FIELD=VALUE with STAGE in {stages}, got 'steps'\n"
