"""emberta reproduces MTEB's published scores for the default model on the shared datasets
(../shared/datasets/REFERENCE.md): STSBenchmark within 0.1 points, SciFact nDCG@10 within 0.2."""

from __future__ import annotations

import pytest

import emberta

pytestmark = pytest.mark.real_model


def test_stsbenchmark_and_scifact_match_mteb(data_dir):
    results = {
        r.task_name: r for r in emberta.evaluate("default", "STSBenchmark,SciFact", data_dir=data_dir, cache=False)
    }
    assert 100 * results["STSBenchmark"].main_score == pytest.approx(82.03, abs=0.1)
    scifact = results["SciFact"].subsets[0].metrics
    assert 100 * scifact["ndcg_at_10"] == pytest.approx(64.51, abs=0.2)
    assert 100 * scifact["recall_at_100"] == pytest.approx(92.50, abs=0.3)
    assert 100 * scifact["mrr_at_10"] == pytest.approx(60.47, abs=0.3)
