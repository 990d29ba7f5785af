"""The explained-variance spectrum and the effective rank (Roy & Vetterli 2007)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emberta.geometry._common import as_matrix


@dataclass(frozen=True)
class Spectrum:
    """singular_values of the centred matrix (descending); explained_variance ratios; dims_for[p]: how many
    principal directions explain p of the variance (p = 0.9, 0.95, 0.99); effective_rank: exp of the entropy
    of the normalised singular values."""

    singular_values: np.ndarray
    explained_variance: np.ndarray
    dims_for: dict[float, int]
    effective_rank: float


def spectrum(x) -> Spectrum:
    x = as_matrix(x)
    singular = np.linalg.svd(x - x.mean(axis=0), compute_uv=False)
    variance = singular**2 / (singular**2).sum()
    cumulative = np.cumsum(variance)
    dims_for = {p: int(np.searchsorted(cumulative, p - 1e-12) + 1) for p in (0.9, 0.95, 0.99)}
    p = singular / singular.sum()
    p = p[p > 0]
    return Spectrum(singular, variance, dims_for, float(np.exp(-(p * np.log(p)).sum())))
