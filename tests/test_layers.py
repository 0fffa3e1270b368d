"""The package layering the README's Layout section promises, read from every module's import statements
(including imports inside functions): app -> ui -> training -> evals -> lab, storage; lab imports nothing of ours
above it; only storage/ speaks SQL."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"app", "ui", "training", "evals", "lab", "storage"}
ALLOWED = {
    "lab": {"lab"},
    "storage": {"storage", "lab"},
    "evals": {"evals", "lab", "storage"},
    "training": {"training", "evals", "lab", "storage"},
    "ui": {"ui", "training", "evals", "lab", "storage"},
}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def _modules(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts or package == "storage")


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_the_layers_below_it(package: str) -> None:
    wrong = []
    for path in _modules(package):
        for name in _imports(path):
            top = name.split(".")[0]
            if top in OURS and top not in ALLOWED[package]:
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("package", ["app", "ui", "training", "evals", "lab"])
def test_only_storage_speaks_sql(package: str) -> None:
    paths = [ROOT / "app.py"] if package == "app" else _modules(package)
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in paths
        for name in _imports(path)
        if name.split(".")[0] in {"sqlalchemy", "sqlite3", "alembic"}
    ]
    assert not wrong, "\n".join(wrong)
