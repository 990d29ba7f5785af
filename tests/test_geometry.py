"""Geometry measures on constructed data with known answers, and against scikit-dimension where installed."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import skew

from emberta.geometry import (
    alignment_uniformity,
    hubness,
    intrinsic_dimension,
    isotropy,
    k_occurrence,
    language_separability,
    mle_levina_bickel,
    rogue_dimensions,
    spectrum,
    twonn,
    weat,
)

RNG = np.random.default_rng(0)
GAUSS = RNG.standard_normal((3000, 32))


def test_isotropic_gaussian_is_isotropic_and_a_shifted_one_is_not():
    report = isotropy(GAUSS)
    assert abs(report.average_cosine) < 0.01 and report.partition_isotropy > 0.6
    shifted = isotropy(GAUSS + 4.0)
    assert shifted.average_cosine > 0.9 and shifted.partition_isotropy < 1e-3


def test_average_cosine_matches_the_pairwise_mean():
    x = RNG.standard_normal((50, 8)) + 0.5
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    pairs = [u[i] @ u[j] for i, j in itertools.combinations(range(50), 2)]
    assert isotropy(x).average_cosine == pytest.approx(np.mean(pairs))


def test_a_planted_rogue_dimension_is_found():
    x = GAUSS.copy()
    x[:, 7] += 12.0
    report = rogue_dimensions(x)
    assert report.rogue == [7] and report.top[0] == 7 and report.shares[7] > 0.9
    assert np.abs(report.shares).sum() == pytest.approx(1.0)
    assert report.contributions.sum() == pytest.approx(report.expected_cosine)
    assert rogue_dimensions(GAUSS).rogue == []


def test_star_shaped_set_has_hubs_and_a_grid_has_none():
    rays = np.concatenate([np.outer(np.linspace(0.2, 3, 40), RNG.standard_normal(16)) for _ in range(30)])
    star = np.concatenate([rays, RNG.normal(0, 0.01, (5, 16))]) + 0.0
    star_report = hubness(star + RNG.normal(0, 1e-3, star.shape), k=10)
    grid = np.array(list(itertools.product(range(20), range(20))), dtype=float) + 100.0
    assert star_report.k_skewness > 3 * max(hubness(grid, k=10).k_skewness, 0.1)
    assert star_report.robin_hood > 0.3 and star_report.antihub_occurrence > 0.1


def test_hubness_indices_on_a_known_neighbour_matrix():
    neighbours = np.array([[1], [0], [0], [0]])  # point 0 is everybody's neighbour
    occurrence = k_occurrence(neighbours, 4)
    assert occurrence.tolist() == [3, 1, 0, 0]
    square = np.full((4, 4), 0.0)
    square[:, 0], square[0, 1] = 1.0, 1.0
    report = hubness(scores=square, k=1)
    assert report.k_skewness == pytest.approx(skew([3, 1, 0, 0]))
    assert report.robin_hood == pytest.approx(0.5 * (2 + 0 + 1 + 1) / 4)
    assert report.hub_occurrence == pytest.approx(3 / 1 / 4) and report.antihub_occurrence == 0.5


def test_intrinsic_dimension_of_a_linear_subspace():
    z = RNG.standard_normal((2000, 5))
    x = z @ RNG.standard_normal((5, 50))
    report = intrinsic_dimension(x)
    assert report.twonn == pytest.approx(5, abs=0.5) and report.mle == pytest.approx(5, abs=0.5)


def test_intrinsic_dimension_agrees_with_scikit_dimension():
    skdim = pytest.importorskip("skdim")
    x = RNG.standard_normal((1500, 7)) @ RNG.standard_normal((7, 40))
    assert twonn(x) == pytest.approx(skdim.id.TwoNN().fit(x).dimension_, rel=1e-6)
    assert mle_levina_bickel(x, k=20) == pytest.approx(skdim.id.MLE(K=20).fit(x).dimension_, rel=1e-6)


def test_spectrum_of_rank_three_data():
    x = RNG.standard_normal((500, 3)) @ RNG.standard_normal((3, 20))
    report = spectrum(x)
    assert report.dims_for[0.99] <= 3 and report.explained_variance[3:].sum() < 1e-10
    assert 1.5 < report.effective_rank <= 3.0 + 1e-9
    assert spectrum(GAUSS).effective_rank > 30


def test_alignment_and_uniformity():
    perfect = alignment_uniformity(GAUSS[:500], GAUSS[:500])
    assert perfect.alignment == pytest.approx(0.0, abs=1e-12)
    collapsed = alignment_uniformity(np.ones((100, 8)) + RNG.normal(0, 1e-6, (100, 8)))
    assert collapsed.uniformity == pytest.approx(0.0, abs=1e-3)
    assert alignment_uniformity(GAUSS[:500]).uniformity < -3.0
    assert alignment_uniformity(GAUSS[:10]).alignment is None


def test_language_separability_of_two_blobs():
    x = np.concatenate([RNG.normal(0, 1, (100, 8)), RNG.normal(3, 1, (100, 8))])
    report = language_separability(x, ["de"] * 100 + ["en"] * 100)
    assert report.accuracy > 0.95 and report.chance == 0.5 and report.languages == 2


def test_weat_effect_size_and_exact_permutation_test():
    a, b = np.eye(4)[:2] + 0.01, np.eye(4)[2:] + 0.01
    x = np.array([[1, 0.9, 0, 0], [0.9, 1, 0.1, 0], [1, 1, 0, 0.1]], dtype=float)  # close to A
    y = np.array([[0, 0, 1, 0.9], [0.1, 0, 0.9, 1], [0, 0.1, 1, 1]], dtype=float)  # close to B
    result = weat(x, y, a, b)
    assert result.effect_size > 1.5 and result.permutations == 20  # C(6, 3) partitions, tested exactly
    assert result.p_value == pytest.approx(1 / 20)
    assert weat(y, x, a, b).effect_size == pytest.approx(-result.effect_size)
