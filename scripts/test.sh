#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh), then runs the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The C++ unit tests first (fast), then the Python suite.
PATH="$PWD/.venv/bin:$PATH" bash scripts/ctest.sh
# The venv's tools (weed, torchrun, fastchunk) for the tests' subprocesses;
# a test whose server or compiler is missing fails here instead of skipping.
export PATH="$PWD/.venv/bin:$PATH"
export FASTCHUNK_REQUIRE_ALL_TESTS=1
exec .venv/bin/python -m pytest -q -rs "$@"
