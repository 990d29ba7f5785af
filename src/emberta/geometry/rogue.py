"""Rogue dimensions (Timkey & van Schijndel 2021): a few dimensions that dominate cosine similarity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emberta.geometry._common import as_matrix, sample_rows
from emberta.similarity import unit_rows

MIN_EXPECTED_COSINE = 0.01


@dataclass(frozen=True)
class RogueDimensions:
    """contributions[i]: dimension i's part of the expected cosine of two random vectors,
    E[u_i v_i / (|u||v|)], summing to expected_cosine. shares = contributions / sum(|contributions|) (equal to
    contributions / expected_cosine when all are positive, as in anisotropic spaces, and still defined when
    the expected cosine is near 0). top: dimensions by share, largest first. rogue: dimensions whose share
    exceeds `threshold` (default 10%); none when the expected cosine is below MIN_EXPECTED_COSINE, where the
    space is nearly isotropic and the contributions are sampling noise."""

    expected_cosine: float
    contributions: np.ndarray
    shares: np.ndarray
    top: list[int]
    rogue: list[int]
    threshold: float


def rogue_dimensions(x, *, threshold: float = 0.1, max_rows: int | None = 10_000, seed: int = 0) -> RogueDimensions:
    """Exact over all distinct pairs of (a sample of) rows: E[u_i v_i] over i != j pairs."""
    u = unit_rows(as_matrix(x)[sample_rows(len(x), max_rows, seed)])
    n = len(u)
    total = u.sum(axis=0)
    contributions = (total**2 - (u**2).sum(axis=0)) / (n * (n - 1))
    expected = float(contributions.sum())
    magnitude = np.abs(contributions).sum()
    shares = contributions / magnitude if magnitude > 0 else np.zeros_like(contributions)
    order = np.argsort(-shares)
    rogue = [int(i) for i in order if shares[i] > threshold] if expected >= MIN_EXPECTED_COSINE else []
    return RogueDimensions(expected, contributions, shares, [int(i) for i in order[:10]], rogue, threshold)
