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
# One build of fastchunk, installed into .venv (with its extras) and into
# .venv-anemoi below (anemoi-training's callback imports it there).
rm -rf build/wheel
$VPY -m pip wheel -q --no-deps -w build/wheel .
WHEEL="$(ls build/wheel/fastchunk-*.whl)"
$VPY -m pip install -q --force-reinstall --no-deps "$WHEEL"
$VPY -m pip install -q "$WHEEL[test,s3,gcs,bench,torch]"
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
# anemoi-training, -models and -graphs declare torch<2.11; their data path
# runs on the torch above, so they go in without their own pins, beside what
# that path imports (the plotting callbacks import datashader at module
# level): about 400 MB. tests/test_anemoi_training*.py and
# benchmarks/bench_anemoi_training.py use them.
ANEMOI_TRAINING=(anemoi-training==0.17.1 anemoi-models==0.19.0 anemoi-graphs==0.9.8)
if ! $AVPY -m pip show anemoi-training 2>/dev/null | grep -qx "Version: 0.17.1"; then
  $AVPY -m pip install -q --no-deps "${ANEMOI_TRAINING[@]}"
fi
$AVPY -m pip install -q pytorch-lightning torch-geometric hydra-core einops typeguard torchinfo \
  matplotlib datashader psutil scikit-learn
$AVPY -m pip install -q --force-reinstall --no-deps "$WHEEL"
echo "anemoi-training $($AVPY -c 'import anemoi.training as a; print(a.__version__)') ready in .venv-anemoi"
# anemoi-training's `train` command (tests/test_anemoi_training_run.py): its
# training module imports timm, timm imports torchvision, and PyPI has no
# torchvision for the torch 2.13 CPU build above (its torchvision 0.28 links
# CUDA torch's libraries). .venv-anemoi-train holds PyPI's torch 2.14.1 and
# torchvision 0.29.1 (CUDA builds, run on the CPU: about 5.4 GB with their
# nvidia libraries, 1.5-2 min to install), timm, and trimesh (anemoi-graphs'
# icosahedral hidden nodes); everything else (anemoi-training, -models,
# -graphs, -datasets, Lightning, fastchunk) it reads from .venv-anemoi's
# site-packages through a .pth file, after its own: its torch is the one
# imported, and .venv-anemoi stays as it is.
TVPY=.venv-anemoi-train/bin/python
if [ ! -x $TVPY ]; then
  "$PY" -m venv .venv-anemoi-train
fi
if ! $TVPY -m pip show torch 2>/dev/null | grep -qx "Version: 2.14.1"; then
  $TVPY -m pip install -q "torch==2.14.1"
fi
$TVPY -m pip install -q --no-deps "torchvision==0.29.1" "timm==1.0.31" "trimesh==4.12.2"
$AVPY -c "import sysconfig; print(sysconfig.get_paths()['purelib'])" \
  > "$($TVPY -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/fastchunk-anemoi-stack.pth"
echo "anemoi-training train ready in .venv-anemoi-train (torch $($TVPY -c 'import torch; print(torch.__version__)'))"
