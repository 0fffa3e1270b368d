"""Shared fixtures: a temp $LAB_HOME per test and a tiny local model per session (no network)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture
def lab_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Give the test its own $LAB_HOME."""
    home = tmp_path / "lab_home"
    home.mkdir()
    monkeypatch.setenv("LAB_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-initialised causal LM + ChatML tokenizer saved as a plain checkpoint folder."""
    from tests.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture
def db(lab_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A migrated database in the test's $LAB_HOME, with the app's access switches off."""
    import storage
    from storage.db import dispose_engine

    for name in ("LAB_READ_ONLY", "LAB_MAX_QUEUED", "LAB_AUTH"):
        monkeypatch.delenv(name, raising=False)
    path = storage.init_db()
    yield path
    dispose_engine()


@pytest.fixture
def jobs_db(db: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`db` plus the test-only job kinds of tests/test_jobs_kinds.py, for workers started by the test."""
    monkeypatch.setenv("LAB_JOB_MODULES", "tests.test_jobs_kinds")
    return db
