#!/usr/bin/env bash
# Sets up everything on a fresh machine: system libraries, a virtual
# environment in .venv, fastchunk built and installed with its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in libzstd-dev liblz4-dev libblosc-dev libdeflate-dev zlib1g-dev libbz2-dev liblzma-dev libflatbuffers-dev \
           zstd g++ cmake clang libgtest-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
  echo "installing system packages: ${need[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python
$VPY -m pip install -q --upgrade pip
# The CPU build of torch; a plain "torch" would pull a multi-GB CUDA build.
$VPY -m pip install -q "torch==2.13.0"
$VPY -m pip install -q ".[test,s3,gcs,bench,torch]"
echo "fastchunk $($VPY -c 'import fastchunk; print(fastchunk.__version__)') ready in .venv"

# anemoi-datasets, for the tests and benchmark that compare fastchunk.anemoi
# with it, in an environment of its own: it pins zarr 2, fastchunk's tests
# use zarr 3. They run it as a subprocess (.venv-anemoi/bin/python).
ANEMOI_DATASETS="anemoi-datasets==0.5.47"
if [ ! -x .venv-anemoi/bin/python ]; then
  "$PY" -m venv .venv-anemoi
fi
AVPY=.venv-anemoi/bin/python
if ! $AVPY -m pip show anemoi-datasets 2>/dev/null | grep -qx "Version: ${ANEMOI_DATASETS#*==}"; then
  $AVPY -m pip install -q --upgrade pip
  $AVPY -m pip install -q "$ANEMOI_DATASETS"
fi
# torch (CPU) for benchmarks/bench_anemoi.py's "anemoi way": a torch Dataset
# and DataLoader over anemoi.datasets, as anemoi-training reads.
$AVPY -m pip show torch >/dev/null 2>&1 || $AVPY -m pip install -q "torch==2.13.0"
# zfpy 1.0.1.post0 breaks numcodecs' import; 1.0.1 works.
if $AVPY -m pip show zfpy 2>/dev/null | grep -q "^Version: 1.0.1.post"; then
  $AVPY -m pip install -q "zfpy==1.0.1"
fi
echo "anemoi-datasets $($AVPY -c 'import anemoi.datasets as a; print(a.__version__)') ready in .venv-anemoi"
