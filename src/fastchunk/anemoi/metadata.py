"""metadata(): the dict anemoi-datasets' `Dataset.metadata()` gives (what
anemoi-training stores in its checkpoints and anemoi-inference reads back).

anemoi builds a view as a chain of wrapper objects, one per option (Subset,
Select, Rename, Join, Concat, fills, ...), and its metadata describes that
chain: each wrapper's `metadata_specific()` nests the one it wraps, with its
own quirks (dates forwarded from the first dataset, Subsets of Subsets and
Selects of Selects merged, Number reporting only its members). fastchunk's
view is flat, so the options (options.py) build the same chain of `Node`s
beside it, in anemoi's order, and `metadata()` renders it. The format is
that of anemoi-datasets 0.5.47 (tests compare it with that release's)."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fastchunk.anemoi.dates import as_date, as_timedelta, frequency_string

ANEMOI_DATASETS_RELEASE = "0.5.47"  # the release whose metadata() this reproduces


@dataclass(frozen=True, eq=False)
class Node:
    """One anemoi wrapper: what its metadata_specific() reports."""

    action: str
    variables: tuple[str, ...]
    shape: tuple[int, ...]
    dates: np.ndarray  # datetime64[s]: the wrapper's own dates
    frequency: datetime.timedelta | Node | None  # a Node: forwarded; None: from the dates
    first: tuple[str, str]  # start and end dates, forwarded from the first dataset
    fields: dict[str, Any] = field(default_factory=dict)  # the wrapper's own entries
    only: dict[str, Any] | None = None  # a wrapper that reports only this (Number)
    # What merging needs: the wrapped node, indices and reason of a Subset or Select.
    inner: Node | None = None
    indices: tuple[int, ...] = ()
    reason: dict[str, Any] | None = None

    def own_frequency(self) -> datetime.timedelta:
        if isinstance(self.frequency, Node):
            return self.frequency.own_frequency()
        if self.frequency is not None:
            return self.frequency
        if self.dates.size < 2:
            raise ValueError(
                f"Cannot determine frequency of a subset with less than two dates ({self.dates})."
            )
        return as_timedelta(self.dates[1] - self.dates[0])

    def specific(self) -> dict[str, Any]:
        if self.only is not None:
            return dict(self.only)
        out: dict[str, Any] = {
            "action": self.action,
            "variables": list(self.variables),
            "shape": list(self.shape),
            "frequency": frequency_string(self.own_frequency()),
            "start_date": self.first[0],
            "end_date": self.first[1],
        }
        for key, value in self.fields.items():
            out[key] = _render(value)
        return out


def _render(value: Any) -> Any:
    if isinstance(value, Node):
        return value.specific()
    if isinstance(value, (list, tuple)):
        return [_render(v) for v in value]
    return value


def _text(d: np.datetime64) -> str:
    return str(np.datetime64(d, "s"))


def store_node(store: Any) -> Node:
    """A dataset on disk: anemoi's Zarr, or ZarrWithMissingDates when its
    attributes list missing dates."""
    data = store.data
    attrs = dict(store.attrs)
    action = "zarrwithmissingdates" if len(attrs.get("missing_dates", [])) else "zarr"
    dates = store.dates
    return Node(
        action=action,
        variables=tuple(store.variables),
        shape=tuple(int(n) for n in data.shape),
        dates=dates,
        frequency=store.frequency,
        first=(_text(dates[0]), _text(dates[-1])) if dates.size else ("", ""),
        fields={"attrs": attrs, "chunks": [int(c) for c in data.chunks],
                "dtype": str(data.dtype), "path": store.location},
    )  # fmt: skip


def _forwarding(inner: Node, action: str, **changes: Any) -> Node:
    """A wrapper that forwards everything it does not change to `inner`."""
    base = {
        "action": action, "variables": inner.variables, "shape": inner.shape,
        "dates": inner.dates, "frequency": inner, "first": inner.first,
        "inner": inner,
    }  # fmt: skip
    base.update(changes)
    fields = {"forward": inner, **base.pop("fields", {})}
    return Node(fields=fields, **base)


def _combine_start(a: Any, b: Any, dates: np.ndarray) -> Any:
    return b if as_date(a, dates, last=False) < as_date(b, dates, last=False) else a


def _combine_end(a: Any, b: Any, dates: np.ndarray) -> Any:
    return a if as_date(a, dates, last=True) < as_date(b, dates, last=True) else b


def subset(inner: Node, indices: Any, reason: dict[str, Any]) -> Node:
    """anemoi's Subset (dates): a Subset of a Subset is one, reasons combined."""
    indices = [int(i) for i in indices]
    reason = dict(reason)
    while inner.action == "subset" and inner.inner is not None:
        indices = [inner.indices[i] for i in indices]
        combined = dict(reason)
        for key, value in (inner.reason or {}).items():
            if key not in combined:
                combined[key] = value
            elif key == "start":
                combined[key] = _combine_start(combined[key], value, inner.dates)
            elif key == "end":
                combined[key] = _combine_end(combined[key], value, inner.dates)
            else:
                combined[key] = [combined[key], value]
        reason = combined
        inner = inner.inner
    reason = {k: v for k, v in reason.items() if v is not None}
    return _forwarding(
        inner, "subset", shape=(len(indices), *inner.shape[1:]),
        dates=inner.dates[np.asarray(indices, dtype=np.int64)], frequency=None,
        fields={"reason": reason}, indices=tuple(indices), reason=reason,
    )  # fmt: skip


def select(inner: Node, indices: Any, reason: dict[str, Any]) -> Node:
    """anemoi's Select (variables): a Select of a Select is one, reasons merged."""
    indices = [int(i) for i in indices]
    reason = dict(reason)
    while inner.action == "select" and inner.inner is not None:
        indices = [inner.indices[i] for i in indices]
        reason.update(inner.reason or {})
        inner = inner.inner
    reason = reason or {"indices": indices}
    variables = tuple(inner.variables[i] for i in indices)
    return _forwarding(
        inner, "select", variables=variables,
        shape=(inner.shape[0], len(indices), *inner.shape[2:]),
        fields={"reason": reason, "indices": indices}, indices=tuple(indices), reason=reason,
    )  # fmt: skip


def select_names(inner: Node, names: list[str], reason: dict[str, Any]) -> Node:
    index = {v: i for i, v in enumerate(inner.variables)}
    return select(inner, [index[v] for v in names], reason)


def rename(inner: Node, mapping: dict[str, str]) -> Node:
    return _forwarding(
        inner, "rename", variables=tuple(mapping.get(v, v) for v in inner.variables),
        fields={"rename": dict(mapping)},
    )  # fmt: skip


def join(nodes: list[Node]) -> Node:
    """anemoi's Join, then its overlay: a variable given twice comes from its
    last dataset (a Select with reason "overlay")."""
    seen: set[str] = set()
    names: list[str] = []
    for node in reversed(nodes):
        for v in reversed(node.variables):
            while v in seen:
                v = f"({v})"
            seen.add(v)
            names.insert(0, v)
    first = nodes[0]
    joined = Node(
        action="join", variables=tuple(names),
        shape=(first.shape[0], len(names), *first.shape[2:]), dates=first.dates,
        frequency=first, first=first.first, fields={"datasets": list(nodes)},
    )  # fmt: skip
    last: dict[str, int] = {}
    i = 0
    for node in nodes:
        for v in node.variables:
            last[v] = i
            i += 1
    if len(last) == i:
        return joined
    shadowed = [v[1:-1] for v in names if v[0] == "(" and v[-1] == ")"]
    return select(joined, list(last.values()), {"overlay": shadowed})


def concat(nodes: list[Node]) -> Node:
    first = nodes[0]
    return Node(
        action="concat", variables=first.variables,
        shape=(sum(n.shape[0] for n in nodes), *first.shape[1:]),
        dates=np.concatenate([n.dates for n in nodes]), frequency=first,
        first=first.first, fields={"datasets": list(nodes)},
    )  # fmt: skip


def ensemble(nodes: list[Node]) -> Node:
    """anemoi's Ensemble: the datasets' members along axis 2."""
    first = nodes[0]
    return Node(
        action="ensemble", variables=first.variables,
        shape=(first.shape[0], first.shape[1], sum(n.shape[2] for n in nodes), *first.shape[3:]),
        dates=first.dates, frequency=first, first=first.first,
        fields={"datasets": list(nodes)},
    )  # fmt: skip


def grids(nodes: list[Node], action: str = "grids", sizes: int | None = None) -> Node:
    """anemoi's Grids (or Cutout, with the combined grid's size): the
    datasets' gridpoints along axis 3, marked multi_grids."""
    first = nodes[0]
    total = sum(n.shape[3] for n in nodes) if sizes is None else sizes
    return Node(
        action=action, variables=first.variables, shape=(*first.shape[:3], total),
        dates=first.dates, frequency=first, first=first.first,
        fields={"datasets": list(nodes), "multi_grids": True},
    )  # fmt: skip


def fill_missing(inner: Node, method: str, closest: str) -> Node:
    if method == "closest":
        return _forwarding(inner, "missingdatesclosest", fields={"closest": closest})
    if method == "interpolate":
        return _forwarding(inner, "missingdatesinterpolate")
    if method.lower() in ("nan", "nans"):
        return _forwarding(inner, "missingdatesfillwithnans")
    return _forwarding(inner, "missingdatesfillstatistics", fields={"method": method})


def statistics(inner: Node, other: Node) -> Node:
    """anemoi's Statistics: the other dataset's statistics, selected by this
    one's variables."""
    chosen = select_names(other, list(inner.variables), {"select": list(inner.variables)})
    return _forwarding(inner, "statistics", fields={"statistics": chosen})


def thinning(inner: Node, every: Any, method: str, grid: int) -> Node:
    return _forwarding(
        inner, "thinning", shape=(*inner.shape[:-1], grid),
        fields={"thinning": every, "method": method},
    )  # fmt: skip


def number(inner: Node, members: list[int]) -> Node:
    """anemoi's Number: its metadata_specific() is its members, nothing else."""
    chosen = sorted(set(members))
    return _forwarding(
        inner, "number", shape=(*inner.shape[:2], len(chosen), *inner.shape[3:]),
        only={"numbers": [m + 1 for m in chosen]},
    )  # fmt: skip


def missing_dates(inner: Node, dates: list[str]) -> Node:
    return _forwarding(inner, "missingdates", fields={"missing_dates": list(dates)})


def tidy(value: Any) -> Any:
    """anemoi's _tidy: what its metadata() makes JSON of."""
    if isinstance(value, (list, tuple, set)):
        return [tidy(v) for v in value]
    if isinstance(value, dict):
        return {k: tidy(v) for k, v in value.items()}
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return frequency_string(value)
    if isinstance(value, slice):
        return [value.start, value.stop, value.step]
    if isinstance(value, np.integer):
        return int(value)
    if hasattr(value, "metadata") and hasattr(value, "read_orthogonal"):  # a view given as argument
        return repr(value)
    return value


def _dataset_metadata(view: Any, node: Node) -> dict[str, Any]:
    """anemoi's dataset_metadata(): what metadata() says of a view and of
    each of its input sources."""
    return {
        "specific": node.specific(),
        "frequency": view.frequency,
        "variables": view.variables,
        "variables_metadata": view.variables_metadata,
        "shape": view.shape,
        "dtype": str(view.dtype),
        "start_date": node.first[0],
        "end_date": node.first[1],
        "name": view.name,
    }


def render(view: Any, node: Node, arguments: dict[str, Any] | None) -> dict[str, Any]:
    """The whole metadata() dict of `view`, whose chain of wrappers is `node`."""
    sources = []
    for name, source in zip(view.source_names(), view.sources, strict=True):
        if source.meta is None:
            raise ValueError(f"{source!r}, a source of {view!r}, has no anemoi metadata")
        entry = _dataset_metadata(source, source.meta)
        entry["supporting_arrays"] = sorted(source.own_arrays(f"{name}/"))
        sources.append(entry)
    md = {
        "version": ANEMOI_DATASETS_RELEASE,
        "arguments": arguments if arguments is not None else {},
        **_dataset_metadata(view, node),
        "sources": sources,
        "supporting_arrays": sorted(view.own_arrays()),
    }
    return json.loads(json.dumps(tidy(md)))
