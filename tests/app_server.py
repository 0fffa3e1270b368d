"""Start `python app.py` in a subprocess on a free loopback port (own $LAB_HOME, no worker) for UI tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, timeout_s: float = 90.0) -> float:
    """Seconds until `url` answers 200; fails early if the process dies."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if process.poll() is not None:
            raise RuntimeError(f"app exited with code {process.returncode} before answering")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        time.sleep(0.1)
    raise TimeoutError(f"app did not answer at {url} within {timeout_s} s")


@contextlib.contextmanager
def running_app(lab_home: Path, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """Yield the base URL of a freshly started app; stop it afterwards. Its log is lab_home/app.log."""
    port = free_port()
    env = {
        **os.environ,
        "LAB_HOME": str(lab_home),
        "LAB_NO_WORKER": "1",
        "LAB_HOST": "127.0.0.1",
        "LAB_PORT": str(port),
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    lab_home.mkdir(parents=True, exist_ok=True)
    log_path = lab_home / "app.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_up(url, process)
        yield url
    except BaseException:
        print(log_path.read_text(errors="replace")[-4000:])
        raise
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
