#!/usr/bin/env bash
# Builds the extension with AddressSanitizer + UndefinedBehaviorSanitizer
# (CMake option FASTCHUNK_SANITIZE) into build/sanitize, next to -- never over
# -- the normal build, and runs a subset of the test suite against it.
#   bash scripts/sanitize.sh [pytest args...]   (default: the hardening subset)
# Python itself is not instrumented, so the ASan runtime is preloaded; leak
# detection is off (the interpreter keeps memory alive at exit by design).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY="$root/.venv/bin/python"; else PY="$(command -v python3)"; fi
fi
CXX="${SANITIZE_CXX:-g++}"
build="$root/build/sanitize"
start=$(date +%s)

cython_bin="$(command -v cython || true)"
if [ -z "$cython_bin" ] || ! "$cython_bin" --version >/dev/null 2>&1; then
  "$PY" -m pip install -q "cython>=3.0"
  cython_bin="$(dirname "$PY")/cython"
fi
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
mkdir -p "$build"
cmake -S . -B "$build" "${gen[@]}" -DFASTCHUNK_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER="$CXX" -DPython_EXECUTABLE="$PY" -DCYTHON="$cython_bin" \
  >"$build/configure.log" 2>&1 || { cat "$build/configure.log" >&2; exit 1; }
cmake --build "$build" -j "${SANITIZE_JOBS:-2}" --target _core >"$build/build.log" 2>&1 \
  || { tail -40 "$build/build.log" >&2; exit 1; }

# A package folder: the Python sources plus the sanitized extension. Its
# sitecustomize.py puts it ahead of any installed (or editable) fastchunk in
# every Python process the tests start, worker processes included.
pkg="$build/pkg"
rm -rf "$pkg"
mkdir -p "$pkg"
cp -r src/fastchunk "$pkg/fastchunk"
find "$pkg/fastchunk" -name '*.so' -delete
cp "$build"/_core*.so "$pkg/fastchunk/"
cat >"$pkg/sitecustomize.py" <<'PYEOF'
import sys

sys.meta_path[:] = [f for f in sys.meta_path
                    if not type(f).__module__.startswith("_editable_")]
for name in [m for m in sys.modules if m == "fastchunk" or m.startswith("fastchunk.")]:
    del sys.modules[name]
PYEOF

asan="$("$CXX" -print-file-name=libasan.so)"
[ -f "$asan" ] || { echo "sanitize: $asan not found (install the compiler's libasan)" >&2; exit 1; }
# libstdc++ too: ASan resolves the real __cxa_throw when it starts, and the
# interpreter does not load libstdc++ itself.
export LD_PRELOAD="$asan $("$CXX" -print-file-name=libstdc++.so.6)"
export PYTHONPATH="$pkg${PYTHONPATH:+:$PYTHONPATH}"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# Fewer native threads keep the instrumented run within the machine.
export FASTCHUNK_NUM_THREADS="${FASTCHUNK_NUM_THREADS:-4}"

"$PY" -c "import fastchunk._core as c, sys; \
  assert c.__file__.startswith('$pkg'), c.__file__; print('sanitized core:', c.__file__)"

if [ $# -eq 0 ]; then
  set -- tests/test_hostile.py tests/test_stress.py tests/test_errors.py tests/test_formats_v2.py \
         tests/test_formats_v3.py tests/test_indexing.py tests/test_groups.py \
         tests/test_cache_partial.py tests/test_threads_fork.py tests/test_codecs_native.py \
         tests/test_boundary.py tests/test_properties.py tests/test_shard_indexes.py \
         tests/test_shared_cache.py tests/test_pipeline.py tests/test_strings.py \
         tests/test_cache_trust.py tests/test_local_io.py
  existing=()
  for f in "$@"; do [ -f "$f" ] && existing+=("$f"); done
  # Run in the normal suite only:
  # - RSS is no measure under ASan (its quarantine holds freed memory);
  # - forking while other threads allocate: GCC 12's ASan allocator does not
  #   take its locks around fork(), so a child can inherit one held and hang
  #   in ASan's own malloc (seen in gdb: every worker thread waiting in
  #   SizeClassAllocator64::GetFromAllocator). The production build uses
  #   glibc's malloc, which is fork-safe.
  set -- "${existing[@]}" -q -p no:cacheprovider \
    --deselect tests/test_stress.py::test_memory_flat_over_10000_reads \
    --deselect tests/test_stress.py::test_dataloader_fork_workers_after_parent_read \
    --deselect tests/test_threads_fork.py::test_fork_while_another_thread_reads \
    --deselect tests/test_threads_fork.py::test_fork_repeatedly_while_threads_hit_the_caches \
    --deselect tests/test_shared_cache.py::test_fork_while_threads_hit_the_caches
fi
set +e
"$PY" -m pytest "$@"
rc=$?
set -e
echo "sanitize.sh: pytest exit $rc, $(( $(date +%s) - start )) s in all"
exit $rc
