"""Intrinsic dimensionality: TwoNN (Facco et al. 2017) and the Levina–Bickel MLE (2004)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import NearestNeighbors

from emberta.geometry._common import as_matrix, sample_rows


@dataclass(frozen=True)
class IntrinsicDimension:
    twonn: float
    mle: float
    mle_k: int
    n: int


def _neighbour_distances(x: np.ndarray, k: int) -> np.ndarray:
    """Euclidean distances to the k nearest other points, ascending (n, k); duplicates removed first."""
    x = np.unique(x, axis=0)
    distances, _ = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)
    return distances[:, 1:]


def twonn(x, *, discard_fraction: float = 0.1) -> float:
    """TwoNN: mu = r2 / r1 is Pareto(d) distributed; fit d by the line through the origin of -log(1 - F(mu))
    against log(mu), discarding the largest `discard_fraction` of mu (as Facco et al. do)."""
    distances = _neighbour_distances(as_matrix(x, min_rows=3), 2)
    mu = np.sort(distances[:, 1] / np.maximum(distances[:, 0], 1e-12))
    n = len(mu)
    keep = int(np.floor(n * (1 - discard_fraction)))
    f = np.arange(1, n + 1) / n
    xs, ys = np.log(mu[:keep]), -np.log(1 - f[:keep])
    return float((xs @ ys) / (xs @ xs))


def mle_levina_bickel(x, *, k: int = 20) -> float:
    """Levina–Bickel maximum likelihood estimate with k neighbours, averaged over points as
    MacKay & Ghahramani suggest (the inverse of the mean of the inverse local estimates)."""
    distances = _neighbour_distances(as_matrix(x, min_rows=k + 2), k)
    distances = np.maximum(distances, 1e-12)
    inverse_local = np.log(distances[:, -1:] / distances[:, :-1]).sum(axis=1) / (k - 1)
    return float(1.0 / inverse_local.mean())


def intrinsic_dimension(x, *, k: int = 20, max_rows: int | None = 5_000, seed: int = 0) -> IntrinsicDimension:
    x = as_matrix(x)[sample_rows(len(x), max_rows, seed)]
    return IntrinsicDimension(twonn(x), mle_levina_bickel(x, k=k), k, len(x))
