#!/usr/bin/env bash
# Runs xarray's zarr backend tests (xarray/tests/test_backends.py, the tests
# whose names mention zarr; xarray ships its tests in the package) with a
# zarr codec pipeline switched on through ZARR_CODEC_PIPELINE__PATH.
#
#   scripts/run_xarray_suite.sh [fastchunk|default|zarrs] [--subset] [pytest args...]
#
# --subset runs the directory-store class only (TestZarrDirectoryStore, about
# a minute on 2 cores). A JSON report (scripts/pipeline_suite_plugin.py) goes
# to build/suites/xarray-PIPELINE.json, then its summary is printed. Exits
# non-zero when a test fails.
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

TESTS=$("$PY" -c "import os, xarray; print(os.path.join(os.path.dirname(xarray.__file__), 'tests', 'test_backends.py'))")
WORK="$ROOT/build/suites"
mkdir -p "$WORK"
REPORT="$WORK/xarray-$PIPELINE.json"
if [ "$SUBSET" = 1 ]; then
  SELECT=("$TESTS::TestZarrDirectoryStore")
else
  SELECT=("$TESTS" -k "zarr or Zarr")
fi
cd "$WORK"
status=0
ZARR_CODEC_PIPELINE__PATH=$PATH_VALUE FASTCHUNK_SUITE_REPORT="$REPORT" \
  PYTHONPATH="$ROOT/scripts${PYTHONPATH:+:$PYTHONPATH}" \
  "$PY" -m pytest -q -p no:cacheprovider -p pipeline_suite_plugin "${SELECT[@]}" "$@" ||
  status=$?
"$PY" "$ROOT/scripts/pipeline_suite_report.py" "$REPORT"
exit $status
