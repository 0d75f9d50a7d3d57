"""Shared fixtures; the helpers the tests import live in tests/common.py."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.common import SEED


@pytest.fixture
def rng() -> np.random.Generator:
    """A numpy generator with a fixed seed: every run draws the same data."""
    return np.random.default_rng(SEED)


@pytest.fixture
def fresh_slow_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The slow-codec warning is given once per process and codec: start afresh."""
    from fastchunk.zarr import fallback as _fallback

    monkeypatch.setattr(_fallback, "_warned", set())


@pytest.fixture
def cache_off() -> Any:
    """The decoded-chunk cache off and empty before and after the test."""
    import fastchunk

    fastchunk.set_cache_size(0)
    fastchunk.clear_cache()
    yield
    fastchunk.set_cache_size(0)
    fastchunk.clear_cache()
