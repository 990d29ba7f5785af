"""Helpers shared by the measures."""

from __future__ import annotations

import numpy as np

from emberta.errors import OptionError


def as_matrix(x, name: str = "embeddings", min_rows: int = 2) -> np.ndarray:
    """float64 (n, dim) view of `x`, checked."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise OptionError(f"{name} must be a 2-D (n, dim) matrix, got shape {x.shape}")
    if len(x) < min_rows:
        raise OptionError(f"{name} needs at least {min_rows} rows, got {len(x)}")
    if not np.isfinite(x).all():
        raise OptionError(f"{name} contain NaN or infinite values")
    return x


def sample_rows(n: int, limit: int | None, seed: int) -> np.ndarray:
    """All row indices, or `limit` of them drawn without replacement with `seed`."""
    if limit is None or n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))
