#!/usr/bin/env bash
# Sets up everything on a fresh machine: system libraries, a virtual
# environment in .venv, fastchunk built and installed with its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in libzstd-dev liblz4-dev libblosc-dev libdeflate-dev zlib1g-dev zstd g++ cmake clang \
           libgtest-dev; do
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
