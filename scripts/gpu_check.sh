#!/usr/bin/env bash
# The device check: the GPU-marked tests (tests/test_gpu.py) on a tiny random model, on one NVIDIA GPU with no
# network, in well under 10 minutes: GRPO in bf16 on CUDA with our reward, cancel + resume, the reward-model stage,
# an evaluate job generating on CUDA, checkpoint reload, vLLM when importable; then the GRPO check once more with
# CUDA hidden, for the CPU step time beside the CUDA one.
#   On the lent device machine: scripts/gpu_wheels.sh here first, then run `bash scripts/gpu_check.sh` there
#     with carry [".whl"] (the missing wheels are installed into /tmp/site from .whl/).
#   On any CUDA machine with the project's venv: `make gpu-check`.
# Writes $OUT/gpu_check.jsonl (one line per check), gpu_tests.log and cpu_reference.log ($OUT or /tmp/gpu-check).
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
out="${OUT:-/tmp/gpu-check}"
mkdir -p "$out"
if ! "$PY" -c "import trl, datasets, sqlalchemy, alembic, nltk" 2>/dev/null && ls .whl/*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl ||
        exit 1
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONUNBUFFERED=1 GPU_CHECK_REPORT="$out/gpu_check.jsonl" TOKENIZERS_PARALLELISM=false
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
rm -f "$GPU_CHECK_REPORT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
"$PY" - <<'PY' || exit 1
import importlib.metadata as md
import os

import torch

names = ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "pyarrow", "regex", "sqlalchemy", "nltk")
print({n: md.version(n) for n in names}, "cuda:", torch.cuda.is_available())
if not torch.cuda.is_available() and os.environ.get("IFLAB_GPU_TESTS_ON_CPU") != "1":
    raise SystemExit("no CUDA device: the GPU tests would all skip, so the check fails here")
PY
"$PY" -m pip check || echo "(pip check lists conflicts above; the tests show whether they matter)"

start=$(date +%s)
timeout 420 "$PY" -m pytest tests/test_gpu.py -m gpu -v -rs -p no:cacheprovider 2>&1 | tee "$out/gpu_tests.log"
status=${PIPESTATUS[0]}
gpu_s=$(($(date +%s) - start))
CUDA_VISIBLE_DEVICES="" IFLAB_GPU_TESTS_ON_CPU=1 timeout 150 "$PY" -m pytest tests/test_gpu.py -m gpu -q \
    -k grpo_trains -p no:cacheprovider >"$out/cpu_reference.log" 2>&1 || echo "CPU reference run failed: see its log"
echo "GPU tests: exit $status in ${gpu_s} s; whole check $(($(date +%s) - start)) s. Per check:"
cat "$GPU_CHECK_REPORT" 2>/dev/null
exit "$status"
