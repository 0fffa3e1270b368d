"""The launched app as an attacker sees it: only `generate` and `score_row` are API endpoints, and a read-only
demo refuses uploaded folders with custom code, hub ids and trust_remote_code, running nothing."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from tests.app_server import running_app

SETTINGS = (4, 0.0, 1.0, 0)  # max new tokens, temperature, top-p, seed
EVIL_MODULE = """from pathlib import Path
Path({marker!r}).write_text("the uploaded code ran")
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[tuple[str, Path]]:
    """A read-only app (base URL, $LAB_HOME) whose models/ holds the tiny model; uploads go to a temp folder."""
    root = tmp_path_factory.mktemp("read_only_demo")
    home = root / "home"
    shutil.copytree(tiny_model_dir, home / "models" / "tiny")
    env = {"LAB_READ_ONLY": "1", "LAB_ALLOW_REMOTE_CODE": "1", "GRADIO_TEMP_DIR": str(root / "uploads")}
    with running_app(home, extra_env=env) as url:
        yield url, home


def _upload(url: str, name: str, content: str) -> Path:
    """Gradio's public upload route: it answers with the file's path on the server."""
    response = httpx.post(url + "gradio_api/upload", files=[("files", (name, content.encode()))], timeout=30)
    response.raise_for_status()
    path = Path(response.json()[0])
    deadline = time.monotonic() + 10
    while not path.exists() and time.monotonic() < deadline:  # gradio moves the file in a background task
        time.sleep(0.05)
    return path


def test_only_generate_and_score_row_are_api_endpoints(demo: tuple[str, Path]) -> None:
    url, _ = demo
    with urllib.request.urlopen(url + "gradio_api/info", timeout=20) as response:
        info = json.loads(response.read())
    assert sorted(info["named_endpoints"]) == ["/generate", "/score_row"]
    assert not info.get("unnamed_endpoints")
    assert sorted(Client(url, verbose=False).view_api(print_info=False, return_format="dict")["named_endpoints"]) == [
        "/generate",
        "/score_row",
    ]


def test_no_screen_event_is_callable_by_api_clients(lab_home: Path) -> None:
    """ "undocumented" endpoints are missing from /gradio_api/info yet callable: only "private" keeps clients out."""
    import app

    callable_by_clients = {fn.api_name for fn in app.build_app().fns.values() if fn.api_visibility != "private"}
    assert callable_by_clients == {"generate", "score_row"}


def test_uploaded_folder_with_remote_code_is_refused_and_runs_nothing(demo: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = demo
    marker = tmp_path / "remote-code-ran"
    module = _upload(url, "modeling_evil.py", EVIL_MODULE.format(marker=str(marker)))
    # transformers imports "folder--module.Class" from that folder, so config.json may point at another upload.
    code = f"{module.parent}--modeling_evil"
    config = {
        "model_type": "llama",
        "architectures": ["EvilModel"],
        "auto_map": {
            "AutoConfig": f"{code}.EvilConfig",
            "AutoTokenizer": [f"{code}.EvilTokenizer", None],
            "AutoModelForCausalLM": f"{code}.EvilModel",
        },
    }
    folder = _upload(url, "config.json", json.dumps(config)).parent
    shutil.copy(module, folder / "modeling_evil.py")  # as if uploaded next to it: no help to the attacker either
    client = Client(url, verbose=False)
    for trust in (True, False):
        with pytest.raises(AppError, match="read-only demo") as caught:
            client.predict(str(folder), "Hi", *SETTINGS, trust, api_name="/generate")
        assert str(caught.value).startswith("model:")
    assert not marker.exists(), "the uploaded Python code ran in the app process"


def test_hub_ids_are_refused_and_the_lab_models_still_generate(demo: tuple[str, Path]) -> None:
    url, home = demo
    client = Client(url, verbose=False)
    with pytest.raises(AppError, match="read-only demo"):
        client.predict("SomeOrg/some-model", "Hi", *SETTINGS, False, api_name="/generate")
    # trust_remote_code is forced off in read-only mode (even with LAB_ALLOW_REMOTE_CODE=1), not an error.
    response, status = client.predict(str(home / "models" / "tiny"), "Hi", *SETTINGS, True, api_name="/generate")
    assert status.startswith("Done:"), status
    with pytest.raises(AppError, match="seed|maximum"):  # Gradio's own bound on the field, or ours
        client.predict(str(home / "models" / "tiny"), "Hi", 4, 0.0, 1.0, 1e30, False, api_name="/generate")


def test_the_trust_checkbox_is_hidden_without_the_opt_in(demo: tuple[str, Path]) -> None:
    url, _ = demo
    with urllib.request.urlopen(url + "config", timeout=20) as response:
        config = json.loads(response.read())
    props = {c["props"].get("elem_id"): c["props"] for c in config["components"] if c["props"].get("elem_id")}
    assert props["playground-trust-remote-code"]["visible"] is False  # read-only: never, opt-in or not
