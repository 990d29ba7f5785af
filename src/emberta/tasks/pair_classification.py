"""Pair classification (MTEB protocol): average precision and best-threshold accuracy/F1 of a similarity
score per similarity function; the main score is the largest AP."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score

from emberta.similarity import paired_cosine, paired_dot, paired_euclidean, paired_manhattan, paired_scores

MAIN_SCORE = "max_ap"


def evaluate_pair_classification(
    embeddings1: np.ndarray, embeddings2: np.ndarray, labels, similarity_fn: str = "cosine"
) -> dict[str, float]:
    """Metrics named like MTEB's: {similarity|cosine|manhattan|euclidean|dot}_{accuracy,f1,precision,recall,ap}
    and max_{metric} over similarity functions ("similarity" is the model's own `similarity_fn`). Distances
    count as "lower is more similar"."""
    labels = np.asarray(labels, dtype=np.int64)
    cosine = paired_cosine(embeddings1, embeddings2)
    functions = [
        ("similarity", paired_scores(embeddings1, embeddings2, similarity_fn), True),
        ("cosine", cosine, True),
        ("manhattan", paired_manhattan(embeddings1, embeddings2), False),
        ("euclidean", paired_euclidean(embeddings1, embeddings2), False),
        ("dot", paired_dot(embeddings1, embeddings2), True),
    ]
    metrics: dict[str, float] = {}
    best: dict[str, list[float]] = {}
    for name, scores, higher_is_similar in functions:
        for metric, value in pair_metrics(scores, labels, higher_is_similar).items():
            metrics[f"{name}_{metric}"] = value
            best.setdefault(metric, []).append(value)
    for metric, values in best.items():
        metrics[f"max_{metric}"] = max(values)
    return metrics


def pair_metrics(scores, labels, higher_is_similar: bool) -> dict[str, float]:
    """accuracy, f1, precision, recall at their best thresholds, and average precision."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    accuracy, _ = best_accuracy_threshold(scores, labels, higher_is_similar)
    f1, precision, recall, _ = best_f1_threshold(scores, labels, higher_is_similar)
    ap = average_precision_score(labels, scores * (1 if higher_is_similar else -1))
    return {"accuracy": accuracy, "f1": f1, "precision": precision, "recall": recall, "ap": float(ap)}


def _ranked(scores: np.ndarray, labels: np.ndarray, higher_is_similar: bool) -> tuple[np.ndarray, np.ndarray]:
    # a stable sort on the (possibly negated) key keeps MTEB's order of tied rows
    order = np.argsort(-scores if higher_is_similar else scores, kind="stable")
    return scores[order], labels[order]


def best_accuracy_threshold(scores, labels, higher_is_similar: bool = True) -> tuple[float, float]:
    """Best accuracy of "similar iff score beyond t" over thresholds between distinct scores, and that t."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    s, y = _ranked(scores, labels, higher_is_similar)
    n = len(y)
    if n < 2:
        return 0.0, -1.0
    positives_so_far = np.cumsum(y == 1)[:-1]
    negatives_left = (y == 0).sum() - np.cumsum(y == 0)[:-1]
    accuracy = (positives_so_far + negatives_left) / n
    splittable = s[:-1] != s[1:]  # a threshold cannot split tied scores
    accuracy = np.where(splittable, accuracy, -1.0)
    i = int(np.argmax(accuracy))
    if accuracy[i] <= 0:
        return 0.0, -1.0
    return float(accuracy[i]), float((s[i] + s[i + 1]) / 2)


def best_f1_threshold(scores, labels, higher_is_similar: bool = True) -> tuple[float, float, float, float]:
    """Best F1 over thresholds between distinct scores: (f1, precision, recall, threshold)."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    s, y = _ranked(scores, labels, higher_is_similar)
    if len(y) < 2 or y.sum() == 0:
        return 0.0, 0.0, 0.0, 0.0
    correct = np.cumsum(y == 1)[:-1].astype(np.float64)
    extracted = np.arange(1, len(y), dtype=np.float64)
    precision = correct / extracted
    recall = correct / y.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(correct > 0, 2 * precision * recall / (precision + recall), 0.0)
    f1 = np.where(s[:-1] != s[1:], f1, 0.0)
    i = int(np.argmax(f1))  # the first maximum, as MTEB's strict ">" keeps
    if f1[i] <= 0:
        return 0.0, 0.0, 0.0, 0.0
    return float(f1[i]), float(precision[i]), float(recall[i]), float((s[i] + s[i + 1]) / 2)
