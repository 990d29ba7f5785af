"""Task metrics on small hand-checkable inputs, and against independent implementations (brute force with
scikit-learn, pytrec_eval when installed)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import accuracy_score, f1_score

from emberta.tasks.bitext import evaluate_bitext
from emberta.tasks.classification import evaluate_classification, undersample_experiments
from emberta.tasks.clustering import evaluate_clustering, sample_documents
from emberta.tasks.pair_classification import best_accuracy_threshold, best_f1_threshold, evaluate_pair_classification
from emberta.tasks.reranking import evaluate_reranking
from emberta.tasks.retrieval import query_metrics, ranked, retrieval_metrics, search
from emberta.tasks.sts import evaluate_sts


def test_sts_perfect_and_reversed_correlation():
    angles = np.linspace(0.1, 1.4, 6)
    a = np.tile([1.0, 0.0], (6, 1)).astype(np.float32)
    b = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)  # cosine falls with the angle
    gold = 5 - angles
    metrics = evaluate_sts(a, b, gold)
    assert metrics["cosine_spearman"] == pytest.approx(1.0)
    assert metrics["cosine_pearson"] == pytest.approx(np.corrcoef(gold, np.cos(angles))[0, 1], abs=1e-6)
    assert metrics["spearman"] == metrics["cosine_spearman"]
    assert evaluate_sts(a, b, -gold)["cosine_spearman"] == pytest.approx(-1.0)


def test_sts_distances_are_negated():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((20, 4)), rng.standard_normal((20, 4))
    gold = rng.uniform(0, 5, 20)
    metrics = evaluate_sts(a, b, gold)
    expected = spearmanr(gold, -np.linalg.norm(a - b, axis=1))[0]
    assert metrics["euclidean_spearman"] == pytest.approx(expected)


def test_best_threshold_hand_example():
    assert best_accuracy_threshold([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0]) == (0.75, pytest.approx(0.85))
    # tied scores cannot be split: the only thresholds lie below 0.9 and below 0.5
    assert best_accuracy_threshold([0.9, 0.9, 0.5], [1, 0, 0]) == (pytest.approx(2 / 3), pytest.approx(0.7))
    f1, precision, recall, threshold = best_f1_threshold([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0])
    assert (f1, precision, recall) == (pytest.approx(0.8), pytest.approx(2 / 3), 1.0) and threshold == pytest.approx(
        0.65
    )
    # distances: lower is more similar
    assert best_accuracy_threshold([0.1, 0.2, 0.8], [1, 1, 0], higher_is_similar=False) == (1.0, pytest.approx(0.5))


def _brute_force(scores, labels):
    values = sorted(set(scores), reverse=True)
    cuts = [(values[i] + values[i + 1]) / 2 for i in range(len(values) - 1)]
    acc = max(accuracy_score(labels, [int(s > t) for s in scores]) for t in cuts)
    f1 = max(f1_score(labels, [int(s > t) for s in scores], zero_division=0) for t in cuts)
    return acc, f1


@pytest.mark.parametrize("seed", range(5))
def test_best_thresholds_match_brute_force_with_ties(seed):
    rng = np.random.default_rng(seed)
    scores = np.round(rng.uniform(0, 1, 40), 1)  # many ties
    labels = (scores + rng.normal(0, 0.3, 40) > 0.5).astype(int)
    accuracy, _ = best_accuracy_threshold(scores, labels)
    f1, *_ = best_f1_threshold(scores, labels)
    expected_acc, expected_f1 = _brute_force(scores.tolist(), labels.tolist())
    assert accuracy == pytest.approx(expected_acc)
    assert f1 == pytest.approx(expected_f1)


def test_pair_classification_names_and_max():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((30, 8))
    labels = rng.integers(0, 2, 30)
    b = a + rng.standard_normal((30, 8)) * np.where(labels, 0.2, 3.0)[:, None]
    metrics = evaluate_pair_classification(a, b, labels)
    assert metrics["max_ap"] == max(
        metrics[f"{f}_ap"] for f in ("similarity", "cosine", "manhattan", "euclidean", "dot")
    )
    assert metrics["cosine_ap"] > 0.9


def test_undersampling_is_balanced_and_reshuffled():
    labels = ["a"] * 50 + ["b"] * 30 + ["c"] * 3
    experiments = undersample_experiments(labels, samples_per_label=8, n_experiments=4)
    assert len(experiments) == 4 and experiments == undersample_experiments(labels, 8, 4)
    for rows in experiments:
        counts = {k: sum(labels[i] == k for i in rows) for k in "abc"}
        assert counts == {"a": 8, "b": 8, "c": 3}
    assert experiments[0] != experiments[1]
    # experiment 0 takes, per label, the first rows of one RandomState(42) shuffle
    order = list(range(len(labels)))
    np.random.RandomState(42).shuffle(order)
    assert experiments[0][:8] == [i for i in order if labels[i] in "abc"][:8]


def test_classification_on_separable_data():
    rng = np.random.default_rng(2)
    centers = {"x": np.array([5.0, 0]), "y": np.array([0, 5.0]), "z": np.array([-5.0, -5.0])}
    train_labels = [k for k in centers for _ in range(20)]
    train = np.stack([centers[k] + rng.normal(0, 0.5, 2) for k in train_labels])
    test_labels = [k for k in centers for _ in range(10)]
    test = np.stack([centers[k] + rng.normal(0, 0.5, 2) for k in test_labels])
    experiments = undersample_experiments(train_labels, 4, 3)
    metrics = evaluate_classification(train, train_labels, test, test_labels, experiments)
    assert metrics["accuracy"] == 1.0 and metrics["f1"] == 1.0 and metrics["ap"] is None
    assert len(metrics["scores_per_experiment"]) == 3


def test_clustering_separated_groups_and_sampling():
    rng = np.random.default_rng(3)
    labels = np.repeat(["p", "q", "r"], 30)
    vectors = np.concatenate([rng.normal(c, 0.1, (30, 3)) for c in (0.0, 10.0, 20.0)])
    metrics = evaluate_clustering(vectors, labels, random.Random(42), n_bootstraps=3, documents_per_bootstrap=200)
    assert metrics["v_measure"] == pytest.approx(1.0) and metrics["v_measure_std"] == pytest.approx(0.0)
    assert len(sample_documents(1000, random.Random(42))) == 40
    assert sample_documents(1000, random.Random(42)) == random.Random(42).sample(range(1000), k=40)


def test_bitext_identity_and_swaps():
    rng = np.random.default_rng(4)
    source = rng.standard_normal((10, 16))
    assert evaluate_bitext(source, source)["f1"] == 1.0
    target = source.copy()
    target[[0, 1]] = target[[1, 0]]
    metrics = evaluate_bitext(source, target)
    assert metrics["accuracy"] == pytest.approx(0.8)
    assert metrics["f1"] == pytest.approx(
        f1_score(range(10), [1, 0, *range(2, 10)], average="weighted", zero_division=0)
    )


def test_query_metrics_hand_example():
    metrics = query_metrics(["d1", "d2", "d3"], {"d1": 1, "d3": 1, "d4": 1, "d5": 0}, k_values=[1, 3])
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert metrics["ndcg_at_3"] == pytest.approx((1 + 1 / math.log2(4)) / idcg)
    assert metrics["map_at_3"] == pytest.approx((1 + 2 / 3) / 3)
    assert metrics["recall_at_3"] == pytest.approx(2 / 3) and metrics["precision_at_3"] == pytest.approx(2 / 3)
    assert metrics["mrr_at_1"] == 1.0 and metrics["ndcg_at_1"] == 1.0 and metrics["hit_rate_at_1"] == 1.0


def test_empty_result_list_scores_zero():
    metrics = query_metrics([], {"d1": 1}, k_values=[1, 10])
    assert all(value == 0.0 for value in metrics.values())


def test_ties_break_by_descending_document_id():
    assert ranked({"a": 0.5, "c": 0.5, "b": 0.9}) == ["b", "c", "a"]


def test_search_returns_top_k_by_cosine():
    docs = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32)
    run = search(np.array([[1, 0.1]], dtype=np.float32), docs, ["x", "y", "z"], ["q"], top_k=2)
    assert set(run["q"]) == {"x", "z"} and run["q"]["x"] > run["q"]["z"]


def test_retrieval_metrics_match_pytrec_eval():
    pytrec_eval = pytest.importorskip("pytrec_eval")
    rng = np.random.default_rng(5)
    docs = [f"d{i}" for i in range(60)]
    qrels, run = {}, {}
    for q in range(25):
        judged = rng.choice(60, size=8, replace=False)
        qrels[f"q{q}"] = {docs[j]: int(rng.integers(0, 3)) for j in judged}
        qrels[f"q{q}"][docs[judged[0]]] = 1  # every query has a relevant document
        retrieved = rng.choice(60, size=int(rng.integers(5, 40)), replace=False)
        run[f"q{q}"] = {docs[j]: float(np.round(rng.uniform(), 1)) for j in retrieved}  # ties
    k_values = [1, 3, 5, 10, 20]
    names = {"ndcg_cut": "ndcg_at", "map_cut": "map_at", "recall": "recall_at", "P": "precision_at"}
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {f"{m}.{','.join(map(str, k_values))}" for m in names})
    per_query = evaluator.evaluate(run)
    ours = retrieval_metrics(run, qrels, k_values)
    for trec_name, our_name in names.items():
        for k in k_values:
            expected = np.mean([scores[f"{trec_name}_{k}"] for scores in per_query.values()])
            assert ours[f"{our_name}_{k}"] == pytest.approx(expected, abs=1e-9), (trec_name, k)


def test_reranking_hand_example():
    query = np.array([[1.0, 0.0]])
    candidates = [np.array([[0.0, 1.0], [1.0, 0.1], [1.0, 0.5]])]  # one positive (first), ranked third
    metrics = evaluate_reranking(query, candidates, [1], k_values=[10, 1000])
    assert metrics["mrr_at_10"] == pytest.approx(1 / 3) and metrics["map_at_1000"] == pytest.approx(1 / 3)


@pytest.mark.parametrize("function", ["cosine", "dot", "euclidean", "manhattan"])
def test_score_matrix_and_paired_scores_agree_with_scipy(function):
    from scipy.spatial.distance import cdist

    from emberta.similarity import paired_scores, score_matrix

    rng = np.random.default_rng(6)
    a, b = rng.standard_normal((4, 5)), rng.standard_normal((3, 5))
    expected = {
        "cosine": 1 - cdist(a, b, "cosine"),
        "dot": a @ b.T,
        "euclidean": -cdist(a, b, "euclidean"),
        "manhattan": -cdist(a, b, "cityblock"),
    }[function]
    np.testing.assert_allclose(score_matrix(a, b, function), expected, atol=1e-5)
    np.testing.assert_allclose(paired_scores(a[:3], b, function), np.diag(expected[:3]), atol=1e-5)
