#!/usr/bin/env bash
# Long fuzzing run: every libFuzzer target in tests/fuzz for FUZZ_SECONDS each
# (default 300), then the metadata fuzzer for FUZZ_META_ITERATIONS documents.
# The growing corpus lives in build/fuzz/corpus/<target>, crash inputs land in
# build/fuzz/crashes/<target>/. Copy a crash into tests/fuzz/corpus/<target>/
# as regress-<what> once it is fixed: the test suite replays it from then on.
#   FUZZ_SECONDS=3600 bash scripts/fuzz.sh [target ...]
set -uo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-300}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for src in tests/fuzz/fuzz_*.cc; do targets+=("$(basename "$src" .cc)"); done
fi
bash tests/fuzz/build.sh || exit 2
failed=0
for t in "${targets[@]}"; do
  corpus="build/fuzz/corpus/$t"
  crashes="build/fuzz/crashes/$t"
  mkdir -p "$corpus" "$crashes"
  log="build/fuzz/$t.log"
  start=$(date +%s)
  "build/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -malloc_limit_mb=512 -print_final_stats=1 -artifact_prefix="$crashes/" \
    "$corpus" "tests/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
  ncrash=$(find "$crashes" -type f | wc -l)
  echo "$t: rc=$rc executions=${runs:-?} seconds=$(( $(date +%s) - start )) crash_files=$ncrash"
  if [ $rc -ne 0 ]; then
    failed=1
    grep -m3 -E 'ERROR|runtime error|SUMMARY' "$log"
  fi
done
start=$(date +%s)
python tests/fuzz/fuzz_metadata.py --iterations "${FUZZ_META_ITERATIONS:-20000}" || failed=1
echo "fuzz_metadata: seconds=$(( $(date +%s) - start ))"
exit $failed
