"""Hubness (Radovanović et al. 2010; Feldbauer et al. 2018): some points are the nearest neighbour of many."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import skew

from emberta.geometry._common import as_matrix
from emberta.similarity import unit_rows


@dataclass(frozen=True)
class HubnessReport:
    """k_skewness: skewness of the k-occurrence distribution (0 = none; above ~1.2 is strong hubness).
    robin_hood: share of k-occurrences that would have to move for all points to be equally often neighbours.
    hub_occurrence: share of neighbour slots held by hubs (k-occurrence >= 2k). antihub_occurrence: share of
    points that are nobody's neighbour."""

    k: int
    k_skewness: float
    robin_hood: float
    hub_occurrence: float
    antihub_occurrence: float
    max_k_occurrence: int


def k_occurrence(neighbours: np.ndarray, n: int) -> np.ndarray:
    """How often each of n points appears in the (n_queries, k) neighbour index matrix."""
    return np.bincount(neighbours.ravel(), minlength=n)


def knn_from_scores(scores: np.ndarray, k: int, exclude_self: bool = True) -> np.ndarray:
    """Indices of the k highest-scoring columns per row (a square matrix excludes its diagonal)."""
    scores = np.array(scores, dtype=np.float64, copy=True)
    if exclude_self:
        np.fill_diagonal(scores, -np.inf)
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return top


def hubness(x=None, *, k: int = 10, scores: np.ndarray | None = None, chunk: int = 2048) -> HubnessReport:
    """Hubness of the k-nearest-neighbour graph of `x` under cosine similarity (exact), or of a given square
    similarity matrix `scores` (e.g. after mutual proximity or local scaling)."""
    if scores is not None:
        neighbours = knn_from_scores(scores, k)
        n = len(scores)
    else:
        u = unit_rows(as_matrix(x, min_rows=k + 1)).astype(np.float32)
        n = len(u)
        parts = []
        for start in range(0, n, chunk):
            block = u[start : start + chunk] @ u.T
            block[np.arange(len(block)), np.arange(start, start + len(block))] = -np.inf
            parts.append(np.argpartition(-block, k - 1, axis=1)[:, :k])
        neighbours = np.concatenate(parts)
    occurrence = k_occurrence(neighbours, n).astype(np.float64)
    hubs = occurrence >= 2 * k
    return HubnessReport(
        k=k,
        k_skewness=float(skew(occurrence)),
        robin_hood=float(0.5 * np.abs(occurrence - occurrence.mean()).sum() / occurrence.sum()),
        hub_occurrence=float(occurrence[hubs].sum() / k / n),
        antihub_occurrence=float((occurrence == 0).mean()),
        max_k_occurrence=int(occurrence.max()),
    )
