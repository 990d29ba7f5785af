"""WEAT / SEAT (Caliskan et al. 2017; May et al. 2019): association of two target sets with two attribute
sets, as an effect size and a one-sided permutation-test p-value."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from emberta.geometry._common import as_matrix
from emberta.similarity import unit_rows


@dataclass(frozen=True)
class WeatResult:
    """effect_size: Cohen's-d-like difference of the two target sets' mean association (in standard
    deviations of the association over all targets); p_value: share of equal-size re-partitions of the targets
    whose test statistic is at least the observed one."""

    effect_size: float
    p_value: float
    permutations: int


def weat(x, y, a, b, *, permutations: int = 10_000, seed: int = 0) -> WeatResult:
    """x, y: target embeddings (e.g. flowers, insects); a, b: attribute embeddings (pleasant, unpleasant)."""
    x, y = unit_rows(as_matrix(x, "X", 1)), unit_rows(as_matrix(y, "Y", 1))
    a, b = unit_rows(as_matrix(a, "A", 1)), unit_rows(as_matrix(b, "B", 1))
    targets = np.concatenate([x, y])
    association = (targets @ a.T).mean(axis=1) - (targets @ b.T).mean(axis=1)  # s(w, A, B) per target
    nx = len(x)
    observed = association[:nx].sum() - association[nx:].sum()
    spread = association.std(ddof=1)
    effect = float((association[:nx].mean() - association[nx:].mean()) / spread) if spread > 0 else 0.0
    total = association.sum()
    n = len(association)
    if math.comb(n, nx) <= permutations:  # exact test over every partition
        statistics = [2 * association[list(c)].sum() - total for c in itertools.combinations(range(n), nx)]
    else:
        rng = np.random.default_rng(seed)
        statistics = [2 * association[rng.permutation(n)[:nx]].sum() - total for _ in range(permutations)]
    statistics = np.asarray(statistics)
    return WeatResult(effect, float((statistics >= observed - 1e-12).mean()), len(statistics))
