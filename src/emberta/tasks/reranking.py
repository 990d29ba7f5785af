"""Reranking (MTEB protocol, as retrieval over each query's own candidates): candidates are scored by the
model's similarity (cosine by default) to their query and ranked; MAP@1000 is the main score, MRR@10 and nDCG@10
are reported too."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from emberta.similarity import paired_scores
from emberta.tasks.retrieval import K_VALUES, retrieval_metrics

MAIN_SCORE = "map_at_1000"


def candidate_ids(query_index: int, n_positive: int, n_negative: int, split: str = "test") -> list[str]:
    """MTEB's ids for one query's candidates (they decide the order of tied scores): positives first."""
    query_id = f"{split}_query{query_index}"
    return [f"apositive_{query_id}_{i:05d}" for i in range(n_positive)] + [
        f"negative_{query_id}_{i:05d}" for i in range(n_negative)
    ]


def evaluate_reranking(
    query_vectors: np.ndarray, candidate_vectors: Sequence[np.ndarray], n_positives: Sequence[int],
    k_values: Sequence[int] = K_VALUES, similarity_fn: str = "cosine",
) -> dict[str, float]:  # fmt: skip
    """query_vectors: (n_queries, dim); candidate_vectors[i]: (n_candidates_i, dim), positives first, the first
    n_positives[i] of them relevant. Returns retrieval metrics (map_at_k, mrr_at_k, ndcg_at_k, ...)."""
    run, qrels = {}, {}
    for i, (candidates, n_pos) in enumerate(zip(candidate_vectors, n_positives, strict=True)):
        ids = candidate_ids(i, n_pos, len(candidates) - n_pos)
        scores = paired_scores(np.repeat(query_vectors[i : i + 1], len(candidates), axis=0), candidates, similarity_fn)
        query_id = f"test_query{i}"
        run[query_id] = dict(zip(ids, scores.tolist(), strict=True))
        qrels[query_id] = {doc: int(j < n_pos) for j, doc in enumerate(ids)}
    return retrieval_metrics(run, qrels, k_values)
