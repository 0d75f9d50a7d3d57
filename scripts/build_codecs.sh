#!/usr/bin/env bash
# Builds the compression libraries fastchunk links (zstd, lz4, c-blosc,
# libdeflate, bzip2, liblzma) as static, position-independent libraries from
# pinned release tarballs, each checked against its SHA-256, and installs them
# under PREFIX, with the headers of the flatbuffers runtime (header-only: it
# reads Icechunk's metadata files).
# cibuildwheel runs it once per platform (before-all); the wheel build then
# finds them through CMAKE_PREFIX_PATH with FASTCHUNK_STATIC_CODECS=ON.
#
#   bash scripts/build_codecs.sh PREFIX
#
# Needs curl, tar (with xz support), make, cmake and a C compiler.
# MACOSX_DEPLOYMENT_TARGET, when set, is honoured by CMake and the compiler on
# macOS. Set BUILD_CODECS_ONLY="bzip2 xz" to build only some of them
# ("flatbuffers" names the headers).
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

# fetch NAME URL SHA256: downloads (or takes $BUILD_CODECS_TARBALLS/<file
# name>, for offline builds), verifies and unpacks into $WORK/NAME.
fetch() {
  local name="$1" url="$2" sha="$3" tarball="$WORK/${2##*/}"
  if [ -n "${BUILD_CODECS_TARBALLS:-}" ] && [ -f "$BUILD_CODECS_TARBALLS/${url##*/}" ]; then
    cp "$BUILD_CODECS_TARBALLS/${url##*/}" "$tarball"
  else
    curl -fsSL --retry 5 --retry-delay 5 -o "$tarball" "$url"
  fi
  local got
  got="$(sha256_of "$tarball")"
  if [ "$got" != "$sha" ]; then
    echo "build_codecs: $url has SHA-256 $got, expected $sha" >&2
    exit 1
  fi
  mkdir -p "$WORK/$name"
  tar -xf "$tarball" -C "$WORK/$name" --strip-components=1
}

# wanted NAME: whether to build NAME (all unless BUILD_CODECS_ONLY lists some).
wanted() {
  [ -z "${BUILD_CODECS_ONLY:-}" ] || [[ " $BUILD_CODECS_ONLY " == *" $1 "* ]]
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
if wanted zstd; then
fetch zstd \
  "https://github.com/facebook/zstd/releases/download/v$ZSTD_VERSION/zstd-$ZSTD_VERSION.tar.gz" \
  eb33e51f49a15e023950cd7825ca74a4a2b43db8354825ac24fc1b7ee09e6fa3
cmake_install zstd build/cmake \
  -DZSTD_BUILD_STATIC=ON -DZSTD_BUILD_SHARED=OFF \
  -DZSTD_BUILD_PROGRAMS=OFF -DZSTD_BUILD_TESTS=OFF -DZSTD_BUILD_CONTRIB=OFF
fi

LZ4_VERSION=1.10.0
if wanted lz4; then
fetch lz4 \
  "https://github.com/lz4/lz4/archive/refs/tags/v$LZ4_VERSION.tar.gz" \
  537512904744b35e232912055ccf8ec66d768639ff3abe5788d90d792ec5f48b
cmake_install lz4 build/cmake \
  -DBUILD_STATIC_LIBS=ON -DLZ4_BUILD_CLI=OFF -DLZ4_BUILD_LEGACY_LZ4C=OFF
fi

# c-blosc uses the zstd and lz4 built above, so one copy of each ends up in the
# extension; its bundled zlib serves blosc's zlib compressor.
BLOSC_VERSION=1.21.6
if wanted c-blosc; then
fetch c-blosc \
  "https://github.com/Blosc/c-blosc/archive/refs/tags/v$BLOSC_VERSION.tar.gz" \
  9fcd60301aae28f97f1301b735f966cc19e7c49b6b4321b839b4579a0c156f38
cmake_install c-blosc . \
  -DBUILD_STATIC=ON -DBUILD_SHARED=OFF \
  -DBUILD_TESTS=OFF -DBUILD_FUZZERS=OFF -DBUILD_BENCHMARKS=OFF \
  -DPREFER_EXTERNAL_ZSTD=ON -DPREFER_EXTERNAL_LZ4=ON -DDEACTIVATE_SNAPPY=ON
fi

DEFLATE_VERSION=1.25
if wanted libdeflate; then
fetch libdeflate \
  "https://github.com/ebiggers/libdeflate/archive/refs/tags/v$DEFLATE_VERSION.tar.gz" \
  d11473c1ad4c57d874695e8026865e38b47116bbcb872bfc622ec8f37a86017d
cmake_install libdeflate . \
  -DLIBDEFLATE_BUILD_STATIC_LIB=ON -DLIBDEFLATE_BUILD_SHARED_LIB=OFF \
  -DLIBDEFLATE_BUILD_GZIP=OFF -DLIBDEFLATE_BUILD_TESTS=OFF
fi

# bzip2 has a plain Makefile; only the library and its header are installed.
# (This SHA-256 is also the one Debian's bzip2_1.0.8.orig.tar.gz has.)
BZIP2_VERSION=1.0.8
if wanted bzip2; then
fetch bzip2 \
  "https://sourceware.org/pub/bzip2/bzip2-$BZIP2_VERSION.tar.gz" \
  ab5a03176ee106d3f0fa90e381da478ddae405918153cca248e682cd0c4a2269
make -C "$WORK/bzip2" -j "$JOBS" libbz2.a CC="${CC:-cc}" \
  CFLAGS="-O2 -fPIC -D_FILE_OFFSET_BITS=64 ${CFLAGS:-}"
mkdir -p "$PREFIX/include" "$PREFIX/lib"
cp "$WORK/bzip2/bzlib.h" "$PREFIX/include/"
cp "$WORK/bzip2/libbz2.a" "$PREFIX/lib/"
fi

# liblzma from XZ Utils (the upstream tarball signed by Lasse Collin; Debian's
# xz-utils_5.8.1.orig.tar.xz, whose signature checks, has this SHA-256).
XZ_VERSION=5.8.1
if wanted xz; then
fetch xz \
  "https://github.com/tukaani-project/xz/releases/download/v$XZ_VERSION/xz-$XZ_VERSION.tar.xz" \
  0b54f79df85912504de0b14aec7971e3f964491af1812d83447005807513cd9e
cmake_install xz . \
  -DXZ_NLS=OFF -DXZ_DOC=OFF -DXZ_TOOL_XZ=OFF -DXZ_TOOL_XZDEC=OFF -DXZ_TOOL_LZMADEC=OFF \
  -DXZ_TOOL_LZMAINFO=OFF -DXZ_TOOL_SCRIPTS=OFF -DXZ_TOOL_SYMLINKS=OFF \
  -DXZ_TOOL_SYMLINKS_LZMA=OFF
fi

# flatbuffers: only the runtime's headers are used (Table, Verifier), the
# version Debian 12 ships as libflatbuffers-dev. (The SHA-256 is also the one
# Homebrew's flatbuffers 2.0.8 formula pins.)
FLATBUFFERS_VERSION=2.0.8
if wanted flatbuffers; then
fetch flatbuffers \
  "https://github.com/google/flatbuffers/archive/v$FLATBUFFERS_VERSION.tar.gz" \
  f97965a727d26386afaefff950badef2db3ab6af9afe23ed6d94bfb65f95f37e
mkdir -p "$PREFIX/include"
rm -rf "$PREFIX/include/flatbuffers"
cp -R "$WORK/flatbuffers/include/flatbuffers" "$PREFIX/include/"
[ -f "$PREFIX/include/flatbuffers/verifier.h" ] || {
  echo "build_codecs: flatbuffers headers missing" >&2; exit 1; }
fi

for lib in zstd lz4 blosc deflate bz2 lzma; do
  case "$lib" in
    blosc) wanted c-blosc || continue ;;
    deflate) wanted libdeflate || continue ;;
    bz2) wanted bzip2 || continue ;;
    lzma) wanted xz || continue ;;
    *) wanted "$lib" || continue ;;
  esac
  [ -f "$PREFIX/lib/lib$lib.a" ] || { echo "build_codecs: lib$lib.a missing" >&2; exit 1; }
done
# fastchunk links no zlib: blosc's zlib compressor must come from its bundled copy.
if wanted c-blosc && ! nm "$PREFIX/lib/libblosc.a" 2>/dev/null | grep -Eq " T _?uncompress$"; then
  echo "build_codecs: libblosc.a does not contain its bundled zlib" >&2
  exit 1
fi
echo "build_codecs: static zstd $ZSTD_VERSION, lz4 $LZ4_VERSION, c-blosc $BLOSC_VERSION," \
  "libdeflate $DEFLATE_VERSION, bzip2 $BZIP2_VERSION, xz $XZ_VERSION," \
  "flatbuffers $FLATBUFFERS_VERSION (headers) in $PREFIX"
