#!/usr/bin/env bash
# Download, here (with network), the wheels the lent GPU machine lacks into .whl/, for the device tool to carry.
# That machine (Python 3.12, x86_64, no network) has torch, transformers, peft, accelerate, pandas, pyarrow, pytest
# but not trl, datasets, SQLAlchemy/alembic or our reward's nltk/langdetect-rs; transformers and peft travel too so
# the check runs our pinned versions of them (torch stays the machine's own CUDA build).
# Then: device run with carry [".whl"] and command `bash scripts/gpu_check.sh` (it installs .whl/ first).
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || grep -qx '/.whl/' .gitignore || echo /.whl/ >>.git/info/exclude
mkdir -p .whl
# Versions as in requirements.txt and as resolved in .venv (dill, multiprocess, Mako: datasets' and alembic's).
# regex: transformers checks its version at import (>=2025.10.22); fsspec: datasets caps it (<=2026.9.0).
# pyarrow (datasets wants >=24) is too big to carry: gpu_check.sh prints the machine's version first.
WHEELS=(
    trl==1.16.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 fsspec==2026.9.0 transformers==5.24.0
    regex==2026.11.19 peft==0.21.2 sqlalchemy==2.1.9 alembic==1.20.1 mako==1.4.3 nltk==3.9.1 langdetect-rs==0.1.0
)
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
    platforms+=(--platform "$p")
done
python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${platforms[@]}" \
    -d .whl "${WHEELS[@]}"
# One version of each package, or the install there stops.
dupes=$(ls .whl/*.whl | xargs -n1 basename | cut -d- -f1 | tr 'A-Z_' 'a-z-' | sort | uniq -d)
[ -z "$dupes" ] || { echo "more than one version in .whl/ of: $dupes (delete the old ones)" >&2; exit 1; }
du -sh .whl
