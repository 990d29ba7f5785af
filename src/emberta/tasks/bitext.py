"""Bitext mining (MTEB protocol): each sentence1 row is matched to its nearest sentence2 row by the model's
similarity (cosine by default); the gold match of row i is row i. Precision/recall/F1 are sklearn's weighted
averages."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from emberta.similarity import score_matrix

MAIN_SCORE = "f1"


def nearest_neighbours(
    source: np.ndarray, target: np.ndarray, similarity_fn: str = "cosine", chunk: int = 1024, scorer=None
) -> np.ndarray:
    """Index of the most similar target row for each source row (or by scorer(source_chunk, target))."""
    score = scorer or (lambda a, b: score_matrix(a, b, similarity_fn))
    return np.concatenate([score(source[i : i + chunk], target).argmax(axis=1) for i in range(0, len(source), chunk)])


def evaluate_bitext(
    source: np.ndarray, target: np.ndarray, similarity_fn: str = "cosine", scorer=None
) -> dict[str, float]:
    """accuracy, precision, recall, f1 of nearest-neighbour matching source -> target."""
    predicted = nearest_neighbours(source, target, similarity_fn, scorer=scorer)
    gold = np.arange(len(source))
    return {
        "precision": float(precision_score(gold, predicted, zero_division=0, average="weighted")),
        "recall": float(recall_score(gold, predicted, zero_division=0, average="weighted")),
        "f1": float(f1_score(gold, predicted, zero_division=0, average="weighted")),
        "accuracy": float(accuracy_score(gold, predicted)),
    }
