#!/usr/bin/env bash
# Rebuilds the extension into the current Python (editable install).
# Serialized with a lock: several people may build from one tree.
set -euo pipefail
cd "$(dirname "$0")/.."
python -c "import scikit_build_core, Cython" 2>/dev/null ||
  python -m pip install -q "scikit-build-core>=0.10" "cython>=3.1" ninja
exec flock /tmp/fastchunk-build.lock \
  python -m pip install -e . --no-build-isolation --no-deps -q "$@"
