"""Which cached byte ranges of an object answer a new range request.

The read plans coalesce neighbouring inner chunks of a shard into one range
request, and how they coalesce depends on the batch: epoch 2 asks for other
ranges than epoch 1 did, over the same bytes. The disk cache keeps each
fetched range as a piece and, per object, an index of its pieces, so a
request is answered from the pieces that cover it, with only the uncovered
parts fetched.

The index is a list of (offset, length) pairs, little-endian u64, newest
last, at most MAX_PIECES of them; anything else read back as an index is
ignored (treated as no index)."""

from __future__ import annotations

import struct
from collections.abc import Sequence

MAX_PIECES = 4096
_PAIR = struct.Struct("<QQ")

Piece = tuple[int, int]  # (offset, length) in the object


def encode_index(pieces: Sequence[Piece]) -> bytes:
    return b"".join(_PAIR.pack(o, n) for o, n in pieces[-MAX_PIECES:])


def decode_index(blob: bytes | memoryview) -> list[Piece]:
    """The pieces listed in `blob`; [] for anything that is not an index."""
    data = bytes(blob)
    if len(data) % _PAIR.size or len(data) > MAX_PIECES * _PAIR.size:
        return []
    pieces = [p for p in _PAIR.iter_unpack(data)]
    if any(n == 0 or o + n > 2**62 for o, n in pieces):
        return []
    return pieces


def merge_index(old: Sequence[Piece], new: Sequence[Piece]) -> list[Piece]:
    """`old` then `new`, without repeats (a piece seen again moves last) and
    without pieces inside another listed piece, newest MAX_PIECES kept."""
    order: dict[Piece, None] = {}
    for p in (*old, *new):
        order.pop(p, None)
        order[p] = None
    inside: set[Piece] = set()
    reach = -1
    for p in sorted(order, key=lambda p: (p[0], -p[1])):
        if p[0] + p[1] <= reach:
            inside.add(p)
        else:
            reach = p[0] + p[1]
    return [p for p in order if p not in inside][-MAX_PIECES:]


def cover(offset: int, length: int, pieces: Sequence[Piece]) -> list[tuple[Piece | None, int, int]]:
    """[offset, offset + length) as consecutive segments (piece, start, size):
    `piece` the listed piece the segment's bytes come from (the one reaching
    furthest at each point), None for a gap no piece covers."""
    end = offset + length
    spans = sorted(p for p in pieces if p[0] < end and p[0] + p[1] > offset)
    segments: list[tuple[Piece | None, int, int]] = []
    pos, i = offset, 0
    while pos < end:
        while i < len(spans) and spans[i][0] <= pos:
            i += 1
        reaching = [p for p in spans[:i] if p[0] + p[1] > pos]
        if reaching:
            best = max(reaching, key=lambda p: p[0] + p[1])
            stop = min(end, best[0] + best[1])
            segments.append((best, pos, stop - pos))
        else:
            stop = spans[i][0] if i < len(spans) else end
            segments.append((None, pos, stop - pos))
        pos = stop
    return segments
