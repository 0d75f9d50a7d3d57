#!/usr/bin/env bash
# Rebuilds the extension into the current Python (editable install).
# Serialized with a lock: several people may build from one tree.
set -euo pipefail
cd "$(dirname "$0")/.."
exec flock /tmp/fastchunk-build.lock \
  python -m pip install -e . --no-build-isolation --no-deps -q "$@"
