#!/usr/bin/env bash
# Sets everything up, then writes a small store with zarr-python and reads it
# back with both readers, printing their speed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m fastchunk demo "$@"
