"""The disk cache's piece arithmetic (store/range_pieces.py), against a
byte-by-byte model."""

from __future__ import annotations

import numpy as np

from fastchunk.store import range_pieces as rp


def test_cover_matches_a_byte_model() -> None:
    rng = np.random.default_rng(3)
    for _ in range(500):
        starts, sizes = rng.integers(0, 200, 6), rng.integers(1, 60, 6)
        pieces = [(int(o), int(n)) for o, n in zip(starts, sizes, strict=True)]
        offset, length = int(rng.integers(0, 220)), int(rng.integers(1, 80))
        segments = rp.cover(offset, length, pieces)
        pos = offset
        for piece, start, size in segments:
            assert start == pos and size > 0
            for b in range(start, start + size):
                holders = [p for p in pieces if p[0] <= b < p[0] + p[1]]
                if piece is None:
                    assert holders == []
                else:
                    assert piece in holders
            pos += size
        assert pos == offset + length
        # consecutive gaps are merged: no two None segments in a row
        kinds = [s[0] is None for s in segments]
        assert not any(x and y for x, y in zip(kinds, kinds[1:], strict=False))


def test_index_round_trip_merge_and_junk() -> None:
    pieces = [(0, 10), (5, 3), (40, 8), (0, 10)]
    merged = rp.merge_index([], pieces)
    assert merged == [(40, 8), (0, 10)]  # (5, 3) lies inside (0, 10); one seen again moves last
    assert rp.decode_index(rp.encode_index(merged)) == merged
    assert rp.merge_index(merged, [(40, 8)]) == [(0, 10), (40, 8)]
    many = [(i * 10, 5) for i in range(rp.MAX_PIECES + 10)]
    kept = rp.merge_index([], many)
    assert len(kept) == rp.MAX_PIECES and kept[-1] == many[-1]  # the newest kept
    for junk in (b"abc", b"\0" * 16, b"\xff" * 16, b"\0" * (16 * rp.MAX_PIECES + 16)):
        assert rp.decode_index(junk) == []
