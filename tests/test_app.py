"""The app process: light import, address from env, and the Playground over the API on loopback."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from tests.app_server import REPO, running_app

GOOD_SETTINGS = (24, 1.0, 0.95, 7, False)  # max new tokens, temperature, top-p, seed, trust remote code


def test_import_app_does_not_import_torch() -> None:
    code = (
        "import sys, app\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'peft', 'trl') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"importing app pulled in {result.stdout.strip()} (slow cold start)"


def test_server_address_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import app

    for name in ("LAB_HOST", "LAB_PORT", "GRADIO_SERVER_NAME", "GRADIO_SERVER_PORT", "SPACE_ID", "SYSTEM"):
        monkeypatch.delenv(name, raising=False)
    assert app.server_address() == ("127.0.0.1", 7860)
    monkeypatch.setenv("SPACE_ID", "someone/if-lab")
    assert app.server_address() == ("0.0.0.0", 7860)  # a Space must listen on all interfaces
    monkeypatch.setenv("LAB_HOST", "127.0.0.2")
    monkeypatch.setenv("LAB_PORT", "8123")
    assert app.server_address() == ("127.0.0.2", 8123)


def test_no_worker_when_told_not_to(monkeypatch: pytest.MonkeyPatch) -> None:
    import app

    monkeypatch.setenv("LAB_NO_WORKER", "1")
    assert app.start_worker() is None


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_app(tmp_path_factory.mktemp("app_home")) as url:
        yield url


@pytest.fixture(scope="module")
def client(app_url: str) -> Client:
    return Client(app_url, verbose=False)


def test_page_serves_the_playground(app_url: str) -> None:
    import urllib.request

    with urllib.request.urlopen(app_url, timeout=10) as response:
        page = response.read().decode()
    assert "IF-Lab" in page


def test_playground_generates_with_a_local_folder(client: Client, tiny_model_dir: Path) -> None:
    response, status = client.predict(str(tiny_model_dir), "Write a poem.", *GOOD_SETTINGS, api_name="/generate")
    assert isinstance(response, str) and response.strip()
    assert status.startswith("Done:") and "tokens" in status


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("no such model", "unknown model"),
        ("/definitely/not/here", "does not exist"),
        ("SomeOrg/some-model", "folder path"),  # a hub id offline: says how to use a local folder instead
        ("bundled:Other", "only bundled model"),
    ],
)
def test_bad_model_gives_a_clear_error_and_the_app_keeps_working(
    client: Client,
    tiny_model_dir: Path,
    spec: str,
    expected: str,
) -> None:
    with pytest.raises(AppError) as caught:
        client.predict(spec, "Hello", *GOOD_SETTINGS, api_name="/generate")
    message = str(caught.value)
    assert message.startswith("model:") and expected in message
    assert "Traceback" not in message
    response, status = client.predict(str(tiny_model_dir), "Hello", *GOOD_SETTINGS, api_name="/generate")
    assert status.startswith("Done:")


def test_empty_prompt_is_refused(client: Client, tiny_model_dir: Path) -> None:
    with pytest.raises(AppError, match="prompt"):
        client.predict(str(tiny_model_dir), "   ", *GOOD_SETTINGS, api_name="/generate")
