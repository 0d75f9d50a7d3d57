#!/usr/bin/env bash
# Builds the libFuzzer targets into build/fuzz (or $1) with clang++,
# AddressSanitizer and UndefinedBehaviorSanitizer. Incremental after the first run.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/build/fuzz}"
CXX="${FUZZ_CXX:-clang++}"
command -v "$CXX" >/dev/null || { echo "fuzz build: $CXX not found (apt-get install clang)" >&2; exit 2; }
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
mkdir -p "$out"
log="$out/build.log"
if [ ! -f "$out/CMakeCache.txt" ]; then
  cmake -S "$root/tests/fuzz" -B "$out" "${gen[@]}" -DCMAKE_CXX_COMPILER="$CXX" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
fi
cmake --build "$out" -j "${FUZZ_JOBS:-2}" >"$log" 2>&1 || { tail -40 "$log" >&2; exit 1; }
