"""Writes the libFuzzer seed corpus (tests/fuzz/corpus/<target>/seed-*) from
real chunks made by numcodecs and zarr-python, in each target's input layout
(see the comment at the top of each fuzz_*.cc).

    python tests/fuzz/make_corpus.py [corpus_dir]

Files named regress-* in the corpus are inputs that once crashed a target;
they are kept by hand, never rewritten here.
"""

from __future__ import annotations

import math
import struct
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import crc32c
import numcodecs
import numpy as np
import zarr
from zarr.codecs import BytesCodec, Crc32cCodec, ShardingCodec, ZstdCodec

HERE = Path(__file__).resolve().parent


def sample(dtype: str, n: int, seed: int = 0) -> np.ndarray:
    """Smooth, compressible data like a weather field, plus a little noise."""
    rng = np.random.default_rng(seed)
    x = np.sin(np.linspace(0, 20, n)) * 100 + rng.normal(0, 1, n)
    return x.astype(dtype)


def u32(v: int) -> bytes:
    return struct.pack("<I", v)


def with_crc(data: bytes) -> bytes:
    return data + struct.pack("<I", crc32c.crc32c(data))


def zstd_without_content_size(frame: bytes, content_size: int) -> bytes:
    """The same zstd frame with its header rewritten to omit the content size
    (as streaming encoders write it)."""
    fhd = frame[4]
    fcs_flag, single, checksum, dict_flag = fhd >> 6, (fhd >> 5) & 1, (fhd >> 2) & 1, fhd & 3
    fcs_len = {0: 1 if single else 0, 1: 2, 2: 4, 3: 8}[fcs_flag]
    header_len = 5 + (0 if single else 1) + (0, 1, 2, 4)[dict_flag] + fcs_len
    window_log = max(10, math.ceil(math.log2(max(content_size, 1))))
    new_header = frame[:4] + bytes([checksum << 2, (window_log - 10) << 3])
    return new_header + frame[header_len:]


def blosc_seeds() -> Iterator[tuple[str, bytes]]:
    for cname in ("lz4", "lz4hc", "blosclz", "zstd", "zlib"):
        for shuffle in (0, 1, 2):
            for dtype in ("u1", "f4", "f8"):
                data = sample(dtype, 2048 // np.dtype(dtype).itemsize * 2).tobytes()
                codec = numcodecs.Blosc(cname=cname, clevel=5, shuffle=shuffle, blocksize=1024)
                frame = codec.encode(data)
                item = np.dtype(dtype).itemsize
                n = len(data) // item
                head = u32(len(data)) + u32(n // 3) + u32(n // 4)
                yield f"{cname}-s{shuffle}-{dtype}", head + frame
    noise = np.random.default_rng(1).integers(0, 256, 3000, dtype="u1").tobytes()
    frame = numcodecs.Blosc(cname="lz4", shuffle=0).encode(noise)  # stored memcpyed
    yield "memcpyed", u32(len(noise)) + u32(10) + u32(100) + frame
    yield "empty", u32(0) + u32(0) + u32(0) + numcodecs.Blosc().encode(b"")


def codec_seeds(codec: numcodecs.abc.Codec, name: str) -> Iterator[tuple[str, bytes]]:
    for dtype in ("u1", "f4", "f8"):
        data = sample(dtype, 1500).tobytes()
        yield f"{name}-{dtype}", u32(len(data)) + codec.encode(data)
    yield f"{name}-empty", u32(0) + codec.encode(b"")


def shuffled(data: bytes) -> bytes:
    """numcodecs Shuffle of 4-byte elements, as the fuzz targets configure it."""
    return np.asarray(numcodecs.Shuffle(elementsize=4).encode(data)).tobytes()


def delta(data: bytes) -> bytes:
    """numcodecs Delta of int32, as the fuzz targets configure it."""
    return np.asarray(numcodecs.Delta(dtype="<i4").encode(np.frombuffer(data, "<i4"))).tobytes()


def bz2_seeds() -> Iterator[tuple[str, bytes]]:
    yield from codec_seeds(numcodecs.BZ2(level=9), "bz2")
    data = sample("f8", 3000).tobytes()
    two = numcodecs.BZ2(level=1).encode(data[:8000]) + numcodecs.BZ2(level=1).encode(data[8000:])
    yield "bz2-two-streams", u32(len(data)) + two


def lzma_seeds() -> Iterator[tuple[str, bytes]]:
    yield from codec_seeds(numcodecs.LZMA(preset=1), "xz")
    data = sample("f4", 1500).tobytes()
    yield "xz-nocheck", u32(len(data)) + numcodecs.LZMA(check=0, preset=0).encode(data)
    half = len(data) // 2
    xz = numcodecs.LZMA(preset=0)
    two = xz.encode(data[:half]) + xz.encode(data[half:])
    yield "xz-two-streams", u32(len(data)) + two


def zstd_seeds() -> Iterator[tuple[str, bytes]]:
    # Layout: decoded size, prefix length (fuzz_zstd.cc), stream.
    zstd = numcodecs.Zstd(level=3)
    for dtype in ("u1", "f4", "f8"):
        data = sample(dtype, 1500).tobytes()
        yield f"zstd-{dtype}", u32(len(data)) + u32(len(data) // 3) + zstd.encode(data)
    yield "zstd-empty", u32(0) + u32(0) + zstd.encode(b"")
    data = sample("f4", 1500).tobytes()
    frame = numcodecs.Zstd(level=1).encode(data)
    no_size = zstd_without_content_size(frame, len(data))
    yield "zstd-no-content-size", u32(len(data)) + u32(100) + no_size
    half = len(data) // 2
    two = numcodecs.Zstd().encode(data[:half]) + numcodecs.Zstd().encode(data[half:])
    yield "zstd-two-frames", u32(len(data)) + u32(half + 10) + two


def chain_seeds() -> Iterator[tuple[str, bytes]]:
    # Chain indices as in fuzz_chain.cc's chains().
    data = sample("f4", 1024).tobytes()
    zstd, blosc, gzip = numcodecs.Zstd(), numcodecs.Blosc(), numcodecs.GZip()
    lz4, zlib = numcodecs.LZ4(), numcodecs.Zlib()
    encoded = {
        0: data,
        1: with_crc(data),
        2: with_crc(zstd.encode(data)),
        3: with_crc(blosc.encode(data)),
        4: with_crc(gzip.encode(data)),
        5: zstd.encode(zstd.encode(data)),
        6: zstd.encode(blosc.encode(data)),
        7: gzip.encode(lz4.encode(data)),
        8: lz4.encode(zlib.encode(data)),
        9: with_crc(zstd.encode(with_crc(data))),
        10: zlib.encode(data),
        11: numcodecs.BZ2().encode(data),
        12: with_crc(numcodecs.LZMA(preset=0).encode(data)),
        13: zstd.encode(shuffled(data)),
        14: numcodecs.BZ2().encode(shuffled(delta(data))),
        15: numcodecs.LZMA(preset=0).encode(delta(data)),
        16: shuffled(data),
    }
    for chain, payload in encoded.items():
        for swap in (0, 2):  # swap choice indices: 0 = none, 2 = 4-byte words
            yield f"chain{chain}-swap{swap}", bytes([chain, swap]) + u32(len(data)) + payload


def shard_objects(tmp: Path) -> Iterator[tuple[str, int, tuple[int, ...], bytes]]:
    """(name, flags, chunks per shard, shard bytes) of real zarr-python shards."""
    variants = {
        "end-crc": (0, {}),
        "start-crc": (1, {"index_location": "start"}),
        "end-nocrc": (2, {"index_codecs": [BytesCodec()]}),
    }
    for name, (flags, cfg) in variants.items():
        path = tmp / f"shard-{name}.zarr"
        codec = ShardingCodec(chunk_shape=(4, 4), codecs=[BytesCodec(), ZstdCodec()],
                              **({"index_codecs": [BytesCodec(), Crc32cCodec()]} | cfg))
        z = zarr.create_array(path, shape=(16, 8), chunks=(8, 8), dtype="f4", fill_value=0,
                              serializer=codec, compressors=None, overwrite=True)
        z[:12, :] = sample("f4", 96).reshape(12, 8)  # second shard partly empty
        for key in ("c/0/0", "c/1/0"):
            yield f"{name}-{key.replace('/', '')}", flags, (2, 2), (path / key).read_bytes()


def shard_index_seeds(tmp: Path) -> Iterator[tuple[str, bytes]]:
    for name, flags, per, data in shard_objects(tmp):
        rank_bits = (len(per) - 1) << 2
        yield name, bytes([flags | rank_bits]) + bytes(p - 1 for p in per) + data


def selection_header(flags: int, chain: int, dtype: int, axes, picks) -> bytes:
    out = bytes([flags, chain, dtype])
    for shape, chunk, per in axes:
        out += bytes([shape, chunk - 1, per - 1])
    for idx in picks:
        out += bytes([len(idx)]) + bytes(idx)
    return out


def read_selection_seeds(tmp: Path) -> Iterator[tuple[str, bytes]]:
    # Chain indices as in fuzz_read_selection.cc's kChains; dtype 2 = 4-byte items.
    chunk = sample("f4", 7 * 11).tobytes()
    zstd = numcodecs.Zstd()
    encoded = {
        0: chunk,
        1: zstd.encode(chunk),
        2: numcodecs.Blosc(shuffle=1).encode(chunk),
        3: numcodecs.GZip().encode(chunk),
        4: numcodecs.Zlib().encode(chunk),
        5: numcodecs.LZ4().encode(chunk),
        6: with_crc(zstd.encode(chunk)),
        7: with_crc(chunk),
        8: numcodecs.BZ2().encode(shuffled(chunk)),
        9: numcodecs.LZMA(preset=0).encode(delta(chunk)),
    }
    axes = [(20, 7, 1), (30, 11, 1)]
    picks = [[0, 3, 6, 9, 19], [1, 2, 3, 12, 29, 2]]
    for chain, payload in encoded.items():
        rank2 = 1
        yield f"chain{chain}", selection_header(rank2, chain, 2, axes, picks) + payload
        transposed = rank2 | 8 | 32 | 64
        yield f"chain{chain}-t", selection_header(transposed, chain, 6, axes, picks) + payload
    # 256 x 256 chunks of four-byte items (the "large" dtype bit scales shape,
    # chunk and indices by 64): a blosc frame of 4 blocks and a zstd stream,
    # of which one row is read -- the partial-decode paths.
    big = (np.arange(256 * 256) // 16).astype("f4").tobytes()
    axes = [(8, 4, 1), (8, 4, 1)]  # shape 512, chunk 256 after scaling
    picks = [[0], [0, 1, 2]]
    partial = {
        "blosc-blocks": (2, numcodecs.Blosc(cname="lz4", shuffle=1).encode(big)),
        "zstd-prefix": (1, zstd.encode(big)),
        "zstd-prefix-no-size": (1, zstd_without_content_size(zstd.encode(big), len(big))),
    }
    for name, (chain, payload) in partial.items():
        yield f"partial-{name}", selection_header(1, chain, 2 | 8, axes, picks) + payload
        yield f"partial-{name}-2t", selection_header(1 | 64, chain, 2 | 8, axes, picks) + payload
    # Axes as runs (dtype bit 4): forward, reversed and strided, on one and
    # two threads (a chunk decoded whole on two threads splits into blocks).
    runs = {
        "rows-2t": (1 | 64, [[0], [0, 1, 2, 3]]),
        "reversed": (1, [[3, 2, 1], [7, 5]]),
        "strided": (1 | 64, [[0, 2, 4], [1, 4, 7]]),
    }
    for name, (flags, run_picks) in runs.items():
        yield f"runs-{name}", (
            selection_header(flags, 2, 2 | 8 | 16, axes, run_picks)
            + numcodecs.Blosc(cname="lz4", shuffle=1, blocksize=16384).encode(big)
        )
    for name, flags, per, data in shard_objects(tmp):
        sflags = 1 | 4 | (16 if flags & 1 else 0)
        if flags & 2:
            continue  # the reader's spec always has a crc32c index here
        axes = [(16, 4, per[0]), (8, 4, per[1])]
        picks = [[0, 5, 9, 15], [7, 0, 3]]
        yield f"shard-{name}", selection_header(sflags, 1, 2, axes, picks) + data


def vlen_seeds() -> Iterator[tuple[str, bytes]]:
    # Layout: expected item count (fuzz_vlen.cc), then a numcodecs VLenUTF8 /
    # VLenBytes encoded buffer.
    words = np.array(["ab", "", "cé", "x" * 300], dtype=object)
    yield "utf8", bytes([4]) + bytes(numcodecs.VLenUTF8().encode(words))
    yield "bytes", bytes([2]) + bytes(numcodecs.VLenBytes().encode(
        np.array([b"\x00\xff", b""], dtype=object)))
    yield "empty", bytes([0]) + bytes(numcodecs.VLenUTF8().encode(np.array([], dtype=object)))
    truncated = bytes(numcodecs.VLenUTF8().encode(words))[:-5]
    yield "truncated", bytes([4]) + truncated


def icechunk_seeds() -> Iterator[tuple[str, bytes]]:
    # Layout (fuzz_icechunk.cc): u8 kind (0 snapshot, 1 manifest, 2 repo info),
    # u8 rank, then the file: Icechunk's own test repositories' files, as
    # written (zstd) and with the payload stored uncompressed, which mutations
    # reach far more easily.
    repos = HERE.parent / "data" / "icechunk"
    picks = [
        ("snapshot-v1", 0, 0, repos / "test-repo-v1" / "snapshots" / "XDZ162T1TYBEJMK99NPG"),
        ("snapshot-v2", 0, 0, repos / "test-repo-v2" / "snapshots" / "H7T8YA6KR5TH32F3PS10"),
        ("repo-v2", 2, 0, repos / "test-repo-v2" / "repo"),
        ("repo-v2.1", 2, 0, repos / "expire-repo-v2-by-working-copy" / "repo"),
    ]
    for kind, rank, folder in ((1, 2, "test-repo-v1"), (1, 2, "test-repo-v2")):
        for path in sorted((repos / folder / "manifests").iterdir()):
            picks.append((f"manifest-{folder[-2:]}-{path.name[:6]}", kind, rank, path))
    for name, kind, rank, path in picks:
        raw = path.read_bytes()
        yield name, bytes([kind, rank]) + raw
        if raw[38] == 1:
            plain = raw[:38] + b"\x00" + bytes(numcodecs.Zstd().decode(raw[39:]))
            yield name + "-plain", bytes([kind, rank]) + plain


def main(dest: Path) -> None:
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        targets = {
            "fuzz_blosc": blosc_seeds(),
            "fuzz_zstd": zstd_seeds(),
            "fuzz_gzip": codec_seeds(numcodecs.GZip(level=5), "gzip"),
            "fuzz_zlib": codec_seeds(numcodecs.Zlib(level=5), "zlib"),
            "fuzz_lz4": codec_seeds(numcodecs.LZ4(), "lz4"),
            "fuzz_bz2": bz2_seeds(),
            "fuzz_lzma": lzma_seeds(),
            "fuzz_chain": chain_seeds(),
            "fuzz_shard_index": shard_index_seeds(tmp),
            "fuzz_read_selection": read_selection_seeds(tmp),
            "fuzz_vlen": vlen_seeds(),
            "fuzz_icechunk": icechunk_seeds(),
        }
        for target, seeds in targets.items():
            folder = dest / target
            folder.mkdir(parents=True, exist_ok=True)
            for old in folder.glob("seed-*"):
                old.unlink()
            count = 0
            for name, data in seeds:
                (folder / f"seed-{name}").write_bytes(data)
                count += 1
            print(f"{target}: {count} seeds")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "corpus")
