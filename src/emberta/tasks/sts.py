"""Semantic textual similarity (MTEB protocol): correlation of gold scores with pair similarities."""

from __future__ import annotations

import numpy as np
from scipy.stats import pearsonr, spearmanr

from emberta.similarity import paired_cosine, paired_euclidean, paired_manhattan, paired_scores

MAIN_SCORE = "cosine_spearman"


def evaluate_sts(
    embeddings1: np.ndarray, embeddings2: np.ndarray, gold_scores, similarity_fn: str = "cosine"
) -> dict[str, float]:
    """Pearson and Spearman correlations of gold scores with cosine similarity and with negated Euclidean and
    Manhattan distances between paired rows; `pearson`/`spearman` use the model's own `similarity_fn`."""
    gold = np.asarray(gold_scores, dtype=np.float64)
    similarities = {
        "cosine": paired_cosine(embeddings1, embeddings2),
        "manhattan": -paired_manhattan(embeddings1, embeddings2),
        "euclidean": -paired_euclidean(embeddings1, embeddings2),
    }
    metrics = {}
    for name, values in similarities.items():
        metrics[f"{name}_pearson"] = float(pearsonr(gold, values)[0])
        metrics[f"{name}_spearman"] = float(spearmanr(gold, values)[0])
    model_scores = paired_scores(embeddings1, embeddings2, similarity_fn)
    metrics["pearson"] = float(pearsonr(gold, model_scores)[0])
    metrics["spearman"] = float(spearmanr(gold, model_scores)[0])
    return metrics
