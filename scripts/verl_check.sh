#!/usr/bin/env bash
# Check `python -m training export verl` against the real verl 0.9.1 (`make verl-check`).
# Builds, once, a venv of its own for verl (it pins transformers<5.11, so it cannot share .venv: ~1.9 GB, a few
# minutes from a wheel cache), then runs the verl-marked tests, which call scripts/verl_check.py in that venv.
#   VERL_VENV   where the venv lives (default .venv-verl)
#   TORCH_ARGS  extra pip options for torch, e.g. "--index-url https://download.pytorch.org/whl/cpu" where
#               PyPI would give the CUDA build (verl's checks here need no GPU)
set -euo pipefail
cd "$(dirname "$0")/.."
VERL_VENV="${VERL_VENV:-.venv-verl}"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
stamp="$VERL_VENV/.installed-requirements-verl.txt"

if [ ! -f "$stamp" ] || [ requirements-verl.txt -nt "$stamp" ]; then
    [ -x "$VERL_VENV/bin/python" ] || "$PYTHON" -m venv "$VERL_VENV"
    # torch first, so that verl's own requirement on torch is already met by the build chosen here.
    # shellcheck disable=SC2086
    nice -n 19 "$VERL_VENV/bin/python" -m pip install -q ${TORCH_ARGS:-} "$(grep '^torch==' requirements-verl.txt)"
    nice -n 19 "$VERL_VENV/bin/python" -m pip install -q -r requirements-verl.txt
    touch "$stamp"
fi

[ -x .venv/bin/python ] || { echo "no .venv: run 'make test' first (the export runs in IF-Lab's own venv)" >&2; exit 2; }
export VERL_PYTHON="$(cd "$VERL_VENV" && pwd)/bin/python"
exec .venv/bin/python -m pytest tests/test_verl_export.py -m verl "$@"
