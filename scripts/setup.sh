#!/usr/bin/env bash
# Set up a fresh checkout: .venv (Python 3.11) with the pinned requirements, and the real clip in data/
# when ../shared/data has it (otherwise the tools fall back to the procedural demo dancer).
# Safe to run again: an existing .venv is reused and pip only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

py=$(command -v python3.11 || command -v python3)
if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
# motionlab itself, editable: `import motionlab` and the `motionlab` command from any folder
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .

clip=../shared/data/uptown_funk.json
if [ ! -f data/uptown_funk.json ] && [ -f "$clip" ]; then
  mkdir -p data
  cp "$clip" data/uptown_funk.json
fi
if [ ! -f data/uptown_funk.json ]; then
  echo "note: $clip not found; tools will use the demo clip and real-clip tests will skip" >&2
fi
