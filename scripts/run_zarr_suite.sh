#!/usr/bin/env bash
# Runs zarr-python's own test suite (the tests of the installed zarr version,
# from its source distribution on PyPI) with a codec pipeline switched on
# through ZARR_CODEC_PIPELINE__PATH, which zarr re-reads whenever its tests
# reset the config.
#
#   scripts/run_zarr_suite.sh [fastchunk|default|zarrs] [--subset] [pytest args...]
#
# --subset runs the indexing, array, v2, codec and store tests without the
# slow benchmark and property-based tests (about a minute on 2 cores; what
# scripts/test.sh runs through tests/test_pipeline_suites.py). A JSON report
# (scripts/pipeline_suite_plugin.py) goes to build/suites/zarr-PIPELINE.json,
# then its summary is printed. Exits non-zero when a test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY="${PYTHON:-$ROOT/.venv/bin/python}"
PIPELINE="${1:-fastchunk}"
shift || true
SUBSET=0
if [ "${1:-}" = "--subset" ]; then SUBSET=1; shift; fi

case "$PIPELINE" in
  fastchunk) PATH_VALUE=fastchunk.zarr.CodecPipeline ;;
  zarrs) PATH_VALUE=zarrs.ZarrsCodecPipeline ;;
  default) PATH_VALUE=zarr.core.codec_pipeline.BatchedCodecPipeline ;;
  *) echo "unknown pipeline $PIPELINE (fastchunk, default or zarrs)" >&2; exit 2 ;;
esac

VERSION=$("$PY" -c "import zarr; print(zarr.__version__)")
WORK="$ROOT/build/suites"
SRC="$WORK/zarr-$VERSION"
mkdir -p "$WORK"
if [ ! -d "$SRC/tests" ]; then
  "$PY" -m pip download -q --no-binary :all: --no-deps "zarr==$VERSION" -d "$WORK" 2>&1 |
    grep -v "^WARNING: Location" || true
  tar -xzf "$WORK/zarr-$VERSION.tar.gz" -C "$WORK"
fi

if [ "$SUBSET" = 1 ]; then
  set -- tests/test_indexing.py tests/test_array.py tests/test_v2.py tests/test_codecs \
    tests/test_store/test_local.py tests/test_store/test_memory.py "$@"
else
  [ $# -gt 0 ] || set -- tests
fi

REPORT="$WORK/zarr-$PIPELINE.json"
cd "$SRC"
status=0
ZARR_CODEC_PIPELINE__PATH=$PATH_VALUE FASTCHUNK_SUITE_REPORT="$REPORT" \
  PYTHONPATH="$ROOT/scripts${PYTHONPATH:+:$PYTHONPATH}" \
  "$PY" -m pytest -q -p no:cacheprovider -p pipeline_suite_plugin \
  "$@" || status=$?
"$PY" "$ROOT/scripts/pipeline_suite_report.py" "$REPORT"
exit $status
