"""Remote code needs the operator's LAB_ALLOW_REMOTE_CODE=1; a read-only demo loads only the lab's own models."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lab.errors import LabError
from lab.model_access import check_demo_model, check_remote_code
from lab.models import DEFAULT_MODEL_SPEC, clear_model_cache, load_model


@pytest.fixture
def operator_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("LAB_READ_ONLY", "LAB_ALLOW_REMOTE_CODE", "GRADIO_TEMP_DIR"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_trust_remote_code_needs_the_operator_opt_in(operator_env: pytest.MonkeyPatch, tiny_model_dir: Path) -> None:
    clear_model_cache()
    with pytest.raises(LabError, match="LAB_ALLOW_REMOTE_CODE=1") as caught:
        load_model(str(tiny_model_dir), trust_remote_code=True)
    assert caught.value.field == "trust_remote_code"
    operator_env.setenv("LAB_ALLOW_REMOTE_CODE", "1")
    assert load_model(str(tiny_model_dir), trust_remote_code=True).source.kind == "local"
    operator_env.setenv("LAB_READ_ONLY", "1")  # a public demo never runs a checkpoint's code, opt-in or not
    with pytest.raises(LabError, match="read-only") as caught:
        check_remote_code(True)
    assert caught.value.field == "trust_remote_code"
    check_remote_code(False)


@pytest.mark.parametrize(
    ("kind", "values"),
    [
        ("grpo", {"trust_remote_code": True}),
        ("evaluate", {"checkpoints": ["bundled"], "trust_remote_code": True}),
        ("generate", {"trust_remote_code": True}),
    ],
)
def test_job_configs_refuse_remote_code_at_submit(
    operator_env: pytest.MonkeyPatch, lab_home: Path, kind: str, values: dict
) -> None:
    from training.registry import get_kind, parse_config

    with pytest.raises(LabError) as caught:
        parse_config(get_kind(kind).config_cls, values)
    assert caught.value.field == "trust_remote_code"


def test_reward_model_jobs_have_no_remote_code_switch(lab_home: Path) -> None:
    from training.registry import get_kind, parse_config

    with pytest.raises(LabError) as caught:
        parse_config(get_kind("reward_model").config_cls, {"trust_remote_code": True})
    assert caught.value.field == "trust_remote_code"


def test_the_grpo_job_checks_again_when_it_loads(operator_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from training.grpo_job import load_policy

    with pytest.raises(LabError) as caught:
        load_policy("SomeOrg/some-model", tmp_path, trust_remote_code=True)
    assert caught.value.field == "trust_remote_code"


def test_read_only_allows_only_the_lab_models(
    operator_env: pytest.MonkeyPatch, lab_home: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    from lab.paths import models_dir

    operator_env.setenv("LAB_READ_ONLY", "1")
    operator_env.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    kept = models_dir() / "tiny"
    shutil.copytree(tiny_model_dir, kept)
    for allowed in ("bundled", DEFAULT_MODEL_SPEC, str(kept), str(kept) + "/"):
        check_demo_model(allowed)
    check_demo_model(str(tiny_model_dir), is_registered=lambda folder: folder == tiny_model_dir.resolve())

    uploads = tmp_path / "gradio" / "abc123"
    shutil.copytree(tiny_model_dir, uploads)
    escape = models_dir() / "escape"
    escape.symlink_to(uploads, target_is_directory=True)
    refused = [
        "SomeOrg/some-model",  # a hub id: refused before any network call
        str(tiny_model_dir),  # an arbitrary folder that storage does not know
        str(uploads),  # Gradio's upload folder
        str(escape),  # a symlink under models/ that leads out
        f"{models_dir()}/tiny/../../runs-elsewhere",  # `..` out of models/
        "models/tiny",  # relative paths
        str(models_dir()),  # the models folder itself
    ]
    for spec in refused:
        with pytest.raises(LabError, match="read-only demo") as caught:
            check_demo_model(spec, is_registered=lambda folder: False)
        assert caught.value.field == "model", spec
    # load_model applies the same rule (run folders stand in for registered checkpoints there).
    with pytest.raises(LabError, match="read-only demo"):
        load_model(str(uploads))
    assert load_model(str(kept)).source.kind == "local"


def test_read_only_adapter_cannot_pull_in_an_outside_base(
    operator_env: pytest.MonkeyPatch, lab_home: Path, tiny_model_dir: Path
) -> None:
    import json

    from lab.paths import models_dir

    adapter = models_dir() / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(tiny_model_dir)}))
    operator_env.setenv("LAB_READ_ONLY", "1")
    with pytest.raises(LabError, match="read-only demo"):
        load_model(str(adapter))


def test_playground_in_read_only_mode(operator_env: pytest.MonkeyPatch, db: Path, tiny_model_dir: Path) -> None:
    """Registered checkpoints generate, with trust_remote_code forced off; other folders are refused."""
    import gradio as gr

    from storage.checkpoints import register_checkpoint
    from storage.jobs import create_job
    from ui.playground import generate

    run_id = create_job("grpo", {}, name="tiny run").run_id
    operator_env.setenv("LAB_READ_ONLY", "1")
    with pytest.raises(gr.Error, match="read-only demo"):
        list(generate(str(tiny_model_dir), "Hi", 4, 0.0, 1.0, 0, True))
    register_checkpoint(run_id, 10, tiny_model_dir.resolve())
    *_, (text, status) = generate(str(tiny_model_dir), "Hi", 4, 0.0, 1.0, 0, True)
    assert status.startswith("Done:")
    with pytest.raises(gr.Error, match="seed"):
        list(generate(str(tiny_model_dir), "Hi", 4, 0.0, 1.0, 1e30, False))


def test_side_by_side_in_read_only_mode(operator_env: pytest.MonkeyPatch, db: Path, tiny_model_dir: Path) -> None:
    from evals.arena import side_by_side

    operator_env.setenv("LAB_READ_ONLY", "1")
    for refs, field in (([str(tiny_model_dir)], "checkpoints"), (["SomeOrg/some-model"], "checkpoints")):
        with pytest.raises(LabError, match="read-only demo") as caught:
            side_by_side("Hi", refs, max_new_tokens=2)
        assert caught.value.field == field
    with pytest.raises(LabError) as caught:
        side_by_side("Hi", ["bundled"], reward_model="/tmp/some-rm", max_new_tokens=2)
    assert caught.value.field == "reward_model"


def test_a_folder_with_custom_code_runs_nothing_without_the_opt_in(
    operator_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import json

    marker = tmp_path / "remote-code-ran"
    folder = tmp_path / "evil"
    folder.mkdir()
    (folder / "modeling_evil.py").write_text(f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n")
    auto_map = {"AutoConfig": "modeling_evil.EvilConfig", "AutoModelForCausalLM": "modeling_evil.EvilModel"}
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "auto_map": auto_map}))
    with pytest.raises(LabError) as caught:
        load_model(str(folder), trust_remote_code=True)
    assert caught.value.field == "trust_remote_code"
    assert not marker.exists()
