"""Alignment and uniformity (Wang & Isola 2020) of L2-normalised embeddings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emberta.geometry._common import as_matrix, sample_rows
from emberta.similarity import unit_rows


@dataclass(frozen=True)
class AlignmentUniformity:
    """alignment: E ||f(x) - f(y)||^2 over positive pairs (lower is better; None without pairs).
    uniformity: log E exp(-2 ||f(x) - f(y)||^2) over all distinct pairs (lower is more uniform)."""

    alignment: float | None
    uniformity: float


def alignment(x, positives) -> float:
    """Mean squared distance of the L2-normalised rows of `x` (n, dim) to those of `positives` (n, dim), row i
    of `positives` being a positive partner of row i of `x` (lower is better)."""
    u, v = unit_rows(as_matrix(x, min_rows=1)), unit_rows(as_matrix(positives, "positives", min_rows=1))
    if v.shape != u.shape:
        raise ValueError(f"positives have shape {v.shape}, embeddings {u.shape}")
    return float((np.linalg.norm(u - v, axis=1) ** 2).mean())


def alignment_uniformity(x, positives=None, *, max_rows: int | None = 5_000, seed: int = 0) -> AlignmentUniformity:
    """x: (n, dim); positives: an (n, dim) matrix whose row i is a positive partner of row i, or None."""
    u = unit_rows(as_matrix(x))
    paired = None if positives is None else alignment(u, positives)
    s = u[sample_rows(len(u), max_rows, seed)]
    squared = np.maximum(2 - 2 * s @ s.T, 0)  # ||a - b||^2 of unit vectors
    pairs = squared[np.triu_indices(len(s), k=1)]
    top = (-2 * pairs).max()
    uniformity = float(top + np.log(np.exp(-2 * pairs - top).mean()))
    return AlignmentUniformity(paired, uniformity)
