"""Isotropy: how evenly vectors spread over directions (Ethayarajh 2019; Mu & Viswanath 2018)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emberta.geometry._common import as_matrix, sample_rows
from emberta.similarity import unit_rows


@dataclass(frozen=True)
class IsotropyReport:
    """average_cosine: mean cosine of distinct pairs (0 for an isotropic cloud around the origin, near 1 when
    every vector points the same way). partition_isotropy: min_c Z(c) / max_c Z(c) over the principal
    directions c, Z(c) = sum_i exp(c . x_i) (1 = isotropic, near 0 = a dominant direction)."""

    average_cosine: float
    partition_isotropy: float
    n: int


def isotropy(x, *, max_rows: int | None = 10_000, seed: int = 0) -> IsotropyReport:
    x = as_matrix(x)[sample_rows(len(x), max_rows, seed)]
    u = unit_rows(x)
    n = len(u)
    total = u.sum(axis=0)
    average_cosine = float((total @ total - n) / (n * (n - 1)))  # sum over i != j of u_i . u_j
    # Mu & Viswanath approximate the min and max over unit vectors c by the eigenvectors of X^T X
    _, _, directions = np.linalg.svd(x, full_matrices=False)
    z = _logsumexp(x @ directions.T)  # log Z(c) for each direction c
    return IsotropyReport(average_cosine, float(np.exp(z.min() - z.max())), n)


def _logsumexp(values: np.ndarray) -> np.ndarray:
    top = values.max(axis=0)
    return top + np.log(np.exp(values - top).sum(axis=0))
