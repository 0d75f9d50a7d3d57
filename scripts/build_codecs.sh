#!/usr/bin/env bash
# Builds the compression libraries fastchunk links (zstd, lz4, c-blosc,
# libdeflate) as static, position-independent libraries from pinned release
# tarballs, each checked against its SHA-256, and installs them under PREFIX.
# cibuildwheel runs it once per platform (before-all); the wheel build then
# finds them through CMAKE_PREFIX_PATH with FASTCHUNK_STATIC_CODECS=ON.
#
#   bash scripts/build_codecs.sh PREFIX
#
# Needs curl, tar, cmake and a C compiler. MACOSX_DEPLOYMENT_TARGET, when set,
# is honoured by CMake on macOS.
set -euo pipefail

PREFIX="${1:?usage: build_codecs.sh PREFIX}"
mkdir -p "$PREFIX"
PREFIX="$(cd "$PREFIX" && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
JOBS="${CMAKE_BUILD_PARALLEL_LEVEL:-4}"

sha256_of() {
  if command -v sha256sum >/dev/null; then sha256sum "$1" | cut -d' ' -f1
  else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

# fetch NAME URL SHA256: downloads, verifies and unpacks into $WORK/NAME.
fetch() {
  local name="$1" url="$2" sha="$3" tarball="$WORK/$1.tar.gz"
  curl -fsSL --retry 5 --retry-delay 5 -o "$tarball" "$url"
  local got
  got="$(sha256_of "$tarball")"
  if [ "$got" != "$sha" ]; then
    echo "build_codecs: $url has SHA-256 $got, expected $sha" >&2
    exit 1
  fi
  mkdir -p "$WORK/$name"
  tar -xzf "$tarball" -C "$WORK/$name" --strip-components=1
}

# cmake_install NAME SOURCE_SUBDIR ARGS...: a static Release build into PREFIX.
cmake_install() {
  local name="$1" subdir="$2"
  shift 2
  # CMAKE_POLICY_VERSION_MINIMUM lets CMake 4 configure projects that still
  # declare a pre-3.5 minimum (c-blosc does).
  cmake -S "$WORK/$name/$subdir" -B "$WORK/$name/_build" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$PREFIX" \
    -DCMAKE_INSTALL_LIBDIR=lib \
    -DCMAKE_PREFIX_PATH="$PREFIX" \
    -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    -DCMAKE_POLICY_VERSION_MINIMUM=3.5 \
    -DBUILD_SHARED_LIBS=OFF \
    "$@"
  cmake --build "$WORK/$name/_build" --parallel "$JOBS"
  cmake --install "$WORK/$name/_build"
}

ZSTD_VERSION=1.5.7
fetch zstd \
  "https://github.com/facebook/zstd/releases/download/v$ZSTD_VERSION/zstd-$ZSTD_VERSION.tar.gz" \
  eb33e51f49a15e023950cd7825ca74a4a2b43db8354825ac24fc1b7ee09e6fa3
cmake_install zstd build/cmake \
  -DZSTD_BUILD_STATIC=ON -DZSTD_BUILD_SHARED=OFF \
  -DZSTD_BUILD_PROGRAMS=OFF -DZSTD_BUILD_TESTS=OFF -DZSTD_BUILD_CONTRIB=OFF

LZ4_VERSION=1.10.0
fetch lz4 \
  "https://github.com/lz4/lz4/archive/refs/tags/v$LZ4_VERSION.tar.gz" \
  537512904744b35e232912055ccf8ec66d768639ff3abe5788d90d792ec5f48b
cmake_install lz4 build/cmake \
  -DBUILD_STATIC_LIBS=ON -DLZ4_BUILD_CLI=OFF -DLZ4_BUILD_LEGACY_LZ4C=OFF

# c-blosc uses the zstd and lz4 built above, so one copy of each ends up in the
# extension; its bundled zlib serves blosc's zlib compressor.
BLOSC_VERSION=1.21.6
fetch c-blosc \
  "https://github.com/Blosc/c-blosc/archive/refs/tags/v$BLOSC_VERSION.tar.gz" \
  9fcd60301aae28f97f1301b735f966cc19e7c49b6b4321b839b4579a0c156f38
cmake_install c-blosc . \
  -DBUILD_STATIC=ON -DBUILD_SHARED=OFF \
  -DBUILD_TESTS=OFF -DBUILD_FUZZERS=OFF -DBUILD_BENCHMARKS=OFF \
  -DPREFER_EXTERNAL_ZSTD=ON -DPREFER_EXTERNAL_LZ4=ON -DDEACTIVATE_SNAPPY=ON

DEFLATE_VERSION=1.25
fetch libdeflate \
  "https://github.com/ebiggers/libdeflate/archive/refs/tags/v$DEFLATE_VERSION.tar.gz" \
  d11473c1ad4c57d874695e8026865e38b47116bbcb872bfc622ec8f37a86017d
cmake_install libdeflate . \
  -DLIBDEFLATE_BUILD_STATIC_LIB=ON -DLIBDEFLATE_BUILD_SHARED_LIB=OFF \
  -DLIBDEFLATE_BUILD_GZIP=OFF -DLIBDEFLATE_BUILD_TESTS=OFF

for lib in zstd lz4 blosc deflate; do
  [ -f "$PREFIX/lib/lib$lib.a" ] || { echo "build_codecs: lib$lib.a missing" >&2; exit 1; }
done
# fastchunk links no zlib: blosc's zlib compressor must come from its bundled copy.
if ! nm "$PREFIX/lib/libblosc.a" 2>/dev/null | grep -Eq " T _?uncompress$"; then
  echo "build_codecs: libblosc.a does not contain its bundled zlib" >&2
  exit 1
fi
echo "build_codecs: static zstd $ZSTD_VERSION, lz4 $LZ4_VERSION, c-blosc $BLOSC_VERSION," \
  "libdeflate $DEFLATE_VERSION in $PREFIX"
