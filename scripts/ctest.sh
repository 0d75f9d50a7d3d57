#!/usr/bin/env bash
# Builds the C++ unit tests (csrc/**/*_test.cc, GoogleTest) into build/ctest,
# beside the Python build, and runs them with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build/ctest
mkdir -p build
gen=()
# The generator is chosen once, when the build folder is made.
[ ! -f "$build/CMakeCache.txt" ] && command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S . -B "$build" "${gen[@]}" -DFASTCHUNK_BUILD_TESTS=ON -DFASTCHUNK_PYTHON=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build.configure.log" 2>&1 ||
  { cat "$build.configure.log" >&2; exit 1; }
cmake --build "$build" -j "${CTEST_JOBS:-2}" >"$build.build.log" 2>&1 ||
  { tail -40 "$build.build.log" >&2; exit 1; }
ctest --test-dir "$build" --output-on-failure -j "${CTEST_JOBS:-2}" "$@"
