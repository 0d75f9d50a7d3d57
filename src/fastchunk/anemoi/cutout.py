"""open_dataset(cutout=[lam, ..., global]): which gridpoints of each grid a
cutout keeps, as anemoi-datasets 0.5.47 (with anemoi-transform's
`cutout_mask`) decides it.

A global gridpoint is dropped when it lies inside the limited-area grid: in
a triangle of its nearest limited-area points (on the unit sphere, seen from
the centre of the Earth), or closer to one than `min_distance_km` (by
default: the smallest spacing of the global grid near the area), or, with
`max_distance_km`, too far from it. The arithmetic follows anemoi's step by
step (the same scipy KD-tree queries, the same numpy expressions), so that
points on the border fall on the same side."""

from __future__ import annotations

from typing import Any

import numpy as np

EARTH_RADIUS_KM = 6371229 / 1000  # earthkit-meteo's R_earth, as anemoi-transform uses it
DEGREE = 0.017453292519943295  # earthkit-meteo's radian: pi / 180


def _kdtree() -> Any:
    try:
        from scipy.spatial import cKDTree
    except ImportError as e:  # pragma: no cover - scipy comes with the test extra
        raise ImportError(
            "open_dataset(cutout=...) needs scipy (the KD-tree anemoi-datasets uses): "
            "pip install scipy"
        ) from e
    return cKDTree


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """(n, 3) points of the unit sphere."""
    phi, lam = np.deg2rad(lat), np.deg2rad(lon)
    cos_phi = np.cos(phi)
    xyz = (cos_phi * np.cos(lam) * 1.0, cos_phi * np.sin(lam) * 1.0, np.sin(phi) * 1.0)
    return np.array(xyz).transpose()


def _west_east(lon: np.ndarray) -> tuple[float, float]:
    """The smallest longitude interval holding every point, across the date
    line if need be: (west in [0, 360), east < west + 360)."""
    values = np.unique(np.mod(lon, 360.0))
    if values.size == 1:
        return float(values[0]), float(values[0])
    steps = np.diff(values)
    widest = int(np.argmax(steps))
    if values[0] + 360.0 - values[-1] >= steps[widest]:
        return float(values[0]), float(values[-1])
    return float(values[widest + 1]), float(values[widest]) + 360.0


def _in_box(
    lat: np.ndarray, lon: np.ndarray, north: float, west: float, south: float, east: float
) -> np.ndarray:
    between = (lat >= south) & (lat <= north)
    spans = [(lon >= west + k) & (lon <= east + k) for k in (0, 360, -360)]
    return between & (spans[0] | spans[1] | spans[2])


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a[:, None, :] @ b[:, :, None])[:, 0, 0]


def _hits(rays: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Whether each ray from the centre of the sphere through `rays` crosses
    the triangle (a, b, c) of its row (Moller-Trumbore)."""
    eps = 0.0000001
    e1, e2 = b - a, c - a
    h = np.cross(rays, e2)
    det = _dot(e1, h)
    ok = ~((det > -eps) & (det < eps))
    inv = 1.0 / np.where(ok, det, 1.0)
    s = -a
    u = inv * _dot(s, h)
    ok &= (u >= 0.0) & (u <= 1.0)
    q = np.cross(s, e1)
    v = inv * _dot(rays, q)
    ok &= (v >= 0.0) & (u + v <= 1.0)
    ok &= inv * _dot(e2, q) > eps
    return ok


def _inside(points: np.ndarray, lam: np.ndarray, near: np.ndarray) -> np.ndarray:
    """Whether each point lies in one of the triangles of consecutive
    neighbours (cyclically) of its row of `near`."""
    count, k = near.shape
    inside = np.zeros(count, dtype=bool)
    if count == 0:
        return inside
    known = (near < len(lam)).all(axis=1)
    for j in range(k):
        todo = np.flatnonzero(known & ~inside)
        if todo.size == 0:
            break
        corners = [lam[near[todo, (j + i) % k]] for i in range(3)]
        inside[todo] = _hits(points[todo], *corners)
    return inside


def _smallest_spacing(points: np.ndarray) -> float:
    distances, _ = _kdtree()(points).query(points, k=2)
    return np.min(distances[:, 1])


def _chord(degrees: float) -> float:
    return float(2.0 * np.sin(np.deg2rad(degrees) / 2.0))


def outside_mask(
    lat: np.ndarray,
    lon: np.ndarray,
    other_lat: np.ndarray,
    other_lon: np.ndarray,
    cropping_distance: float = 2.0,
    neighbours: int = 5,
    min_distance_km: float | None = None,
    max_distance_km: float | None = None,
) -> np.ndarray:
    """bool per point of (other_lat, other_lon): True where it stays, outside
    the area of (lat, lon)."""
    if cropping_distance < 0.0:
        raise ValueError("cutout: cropping_distance must be non-negative")
    for key, value in (("min_distance_km", min_distance_km), ("max_distance_km", max_distance_km)):
        if value is not None and value < 0.0:
            raise ValueError(f"cutout: {key} must be non-negative")
    if neighbours < 3:
        raise ValueError("cutout: neighbours must be at least 3")
    for a in (lat, lon, other_lat, other_lon):
        if a.ndim != 1:
            raise ValueError("cutout: latitudes and longitudes must be one-dimensional")
    if lat.shape != lon.shape or other_lat.shape != other_lon.shape:
        raise ValueError("cutout: latitudes and longitudes of different lengths")
    tree_of = _kdtree()

    north, south = np.amax(lat), np.amin(lat)
    west, east = _west_east(lon)
    margin = cropping_distance
    if max_distance_km is not None:
        widest = max(abs(north), abs(south))
        degree_km = EARTH_RADIUS_KM * np.cos(np.deg2rad(widest)) * DEGREE
        margin = max(cropping_distance, 1.1 * (max_distance_km / degree_km))
    near_area = _in_box(
        other_lat, other_lon, np.min([90.0, north + margin]), west - margin,
        np.max([-90.0, south - margin]), east + margin,
    )  # fmt: skip
    candidates = _unit_vectors(other_lat[near_area], other_lon[near_area])
    area = _unit_vectors(lat, lon)

    if isinstance(min_distance_km, (int, float)):
        closest = min_distance_km / EARTH_RADIUS_KM
    else:
        closest = _smallest_spacing(candidates)

    tree = tree_of(area)
    radius = max(_chord(margin), float(closest))
    if max_distance_km is not None:
        radius = max(radius, max_distance_km / EARTH_RADIUS_KM)
    if len(area) > 1:
        spacing, _ = tree.query(area, k=2)
        radius = max(radius, 3.0 * float(np.max(spacing[:, 1])))

    count = len(candidates)
    distances = np.full((count, neighbours), np.inf)
    near = np.full((count, neighbours), tree.n, dtype=np.intp)
    if count:
        first, _ = tree.query(candidates, k=1, distance_upper_bound=radius)
        reach = np.isfinite(np.asarray(first, dtype=float).reshape(-1))
        if reach.any():
            d, i = tree.query(candidates[reach], k=neighbours)
            distances[reach] = np.asarray(d, dtype=float).reshape(-1, neighbours)
            near[reach] = np.asarray(i).reshape(-1, neighbours)

    nearest = distances.min(axis=1) if count else np.empty(0)
    covered = _inside(candidates, area, near) | (nearest <= closest)
    if max_distance_km is not None:
        covered |= nearest > (max_distance_km / EARTH_RADIUS_KM)
    dropped = near_area.copy()
    dropped[near_area] = covered
    if isinstance(max_distance_km, (int, float)):
        dropped[~near_area] = True  # beyond the box: too far
    return ~dropped


def _overlap(lat_a: np.ndarray, lon_a: np.ndarray, lat_b: np.ndarray, lon_b: np.ndarray) -> bool:
    """Whether a point of b lies within one degree (in lat/lon) of one of a."""
    tree = _kdtree()(np.vstack((lat_a, lon_a)).T)
    distances, _ = tree.query(np.vstack((lat_b, lon_b)).T, k=1)
    return bool(np.any(distances < 1.0))


def cutout_masks(
    grids: list[tuple[np.ndarray, np.ndarray]], **params: Any
) -> tuple[list[np.ndarray], np.ndarray]:
    """The kept points of each limited-area grid (all but the last of
    `grids`, (latitudes, longitudes) each) and of the global one (the last):
    a global point inside any area goes, and so does a point of an area
    inside an earlier one."""
    *areas, (glat, glon) = grids
    keep_global = np.ones(glat.shape[0], dtype=bool)
    masks = []
    for i, (lat, lon) in enumerate(areas):
        keep_global &= outside_mask(lat, lon, glat, glon, **params)
        keep = np.ones(lat.shape[0], dtype=bool)
        for plat, plon in areas[:i]:
            if _overlap(plat, plon, lat, lon):
                keep &= outside_mask(plat, plon, lat, lon, **params)
        masks.append(keep)
    return masks, keep_global
