#!/usr/bin/env bash
# Runs another project's own test suite with a zarr codec pipeline switched on
# through ZARR_CODEC_PIPELINE__PATH (which zarr re-reads whenever its tests
# reset the config):
#
#   scripts/run_suite.sh zarr|xarray [fastchunk|default|zarrs] [--subset] [pytest args...]
#
# zarr: zarr-python's tests, from the source distribution on PyPI of the
#   installed version. --subset: the indexing, array, v2, codec and store tests
#   (about a minute on 2 cores).
# xarray: xarray's zarr backend tests (test_backends.py, tests whose names
#   mention zarr; xarray ships its tests). --subset: TestZarrDirectoryStore.
# xarray-engine: xarray's directory-store tests with every read through
#   engine="fastchunk", beside the same tests with engine="zarr"
#   (tests/xarray_engine_suite.py); the report compares them
#   (scripts/xarray_engine_report.py). Use with the default pipeline.
#
# A JSON report (scripts/pipeline_suite_plugin.py) goes to
# build/suites/SUITE-PIPELINE.json, then its summary is printed. Exits non-zero
# when a test fails. tests/test_pipeline_suites.py runs both subsets.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY="${PYTHON:-$ROOT/.venv/bin/python}"
SUITE="${1:?usage: run_suite.sh zarr|xarray|xarray-engine [PIPELINE] [--subset] [pytest args...]}"
shift
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

WORK="$ROOT/build/suites"
mkdir -p "$WORK"
case "$SUITE" in
  zarr)
    VERSION=$("$PY" -c "import zarr; print(zarr.__version__)")
    RUN_IN="$WORK/zarr-$VERSION"
    if [ ! -d "$RUN_IN/tests" ]; then
      "$PY" -m pip download -q --no-binary :all: --no-deps "zarr==$VERSION" -d "$WORK" 2>&1 |
        grep -v "^WARNING: Location" || true
      tar -xzf "$WORK/zarr-$VERSION.tar.gz" -C "$WORK"
    fi
    if [ "$SUBSET" = 1 ]; then
      SELECT=(tests/test_indexing.py tests/test_array.py tests/test_v2.py tests/test_codecs
              tests/test_store/test_local.py tests/test_store/test_memory.py)
    elif [ $# -gt 0 ]; then
      SELECT=()
    else
      SELECT=(tests)
    fi
    ;;
  xarray)
    TESTS=$("$PY" -c "import os, xarray
print(os.path.join(os.path.dirname(xarray.__file__), 'tests', 'test_backends.py'))")
    RUN_IN="$WORK"
    if [ "$SUBSET" = 1 ]; then
      SELECT=("$TESTS::TestZarrDirectoryStore")
    else
      SELECT=("$TESTS" -k "zarr or Zarr")
    fi
    ;;
  xarray-engine)
    RUN_IN="$ROOT"
    # xarray's test fixtures (use_dask, time_unit, ...) live in its conftest.
    SELECT=(-p xarray.tests.conftest "$ROOT/tests/xarray_engine_suite.py")
    ;;
  *) echo "unknown suite $SUITE (zarr, xarray or xarray-engine)" >&2; exit 2 ;;
esac

REPORT="$WORK/$SUITE-$PIPELINE.json"
cd "$RUN_IN"
status=0
ZARR_CODEC_PIPELINE__PATH=$PATH_VALUE FASTCHUNK_SUITE_REPORT="$REPORT" \
  PYTHONPATH="$ROOT/scripts${PYTHONPATH:+:$PYTHONPATH}" \
  "$PY" -m pytest -q -p no:cacheprovider -p pipeline_suite_plugin "${SELECT[@]}" "$@" ||
  status=$?
if [ "$SUITE" = xarray-engine ]; then
  "$PY" "$ROOT/scripts/xarray_engine_report.py" "$REPORT" || status=1
else
  "$PY" "$ROOT/scripts/pipeline_suite_report.py" "$REPORT"
fi
exit $status
