"""Retrieval (MTEB protocol): exact cosine search of queries over a corpus, scored with trec_eval's
definitions (as pytrec_eval computes them) at k in K_VALUES; the main score is nDCG@10."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from emberta.similarity import score_matrix

MAIN_SCORE = "ndcg_at_10"
K_VALUES = (1, 3, 5, 10, 20, 100, 1000)

Run = Mapping[str, Mapping[str, float]]
Qrels = Mapping[str, Mapping[str, int]]


def search(
    query_vectors: np.ndarray, doc_vectors: np.ndarray, doc_ids: Sequence[str], query_ids: Sequence[str],
    top_k: int = max(K_VALUES), chunk: int = 256, similarity_fn: str = "cosine", scorer=None,
) -> dict[str, dict[str, float]]:  # fmt: skip
    """Exact top-k search (the model's `similarity_fn`, cosine by default; or scorer(query_chunk, doc_vectors)
    -> score matrix): {query id: {document id: score}} with the `top_k` best documents per query."""
    doc_ids = list(doc_ids)
    k = min(top_k, len(doc_ids))
    run: dict[str, dict[str, float]] = {}
    for start in range(0, len(query_ids), chunk):
        queries = query_vectors[start : start + chunk]
        scores = scorer(queries, doc_vectors) if scorer else score_matrix(queries, doc_vectors, similarity_fn)
        top = (
            np.argpartition(-scores, k - 1, axis=1)[:, :k]
            if k < len(doc_ids)
            else np.tile(np.arange(k), (len(scores), 1))
        )
        for row, query_id in enumerate(query_ids[start : start + chunk]):
            run[query_id] = {doc_ids[j]: float(scores[row, j]) for j in top[row]}
    return run


def ranked(documents: Mapping[str, float]) -> list[str]:
    """Document ids by descending score, ties broken by descending id (trec_eval's order)."""
    return [doc for doc, _ in sorted(documents.items(), key=lambda item: (item[1], item[0]), reverse=True)]


def retrieval_metrics(run: Run, qrels: Qrels, k_values: Sequence[int] = K_VALUES) -> dict[str, float]:
    """Mean over the queries of `run` that have qrels of ndcg_at_k, map_at_k, recall_at_k, precision_at_k,
    hit_rate_at_k and mrr_at_k. A document is relevant when its qrels grade is > 0; nDCG gains are the grades."""
    per_query = [query_metrics(ranked(docs), qrels[qid], k_values) for qid, docs in run.items() if qid in qrels]
    if not per_query:
        raise ValueError("no query of the run has relevance judgements")
    return {name: float(np.mean([q[name] for q in per_query])) for name in per_query[0]}


def query_metrics(ranking: Sequence[str], judgements: Mapping[str, int], k_values: Sequence[int] = K_VALUES) -> dict:
    """Metrics of one ranked list against one query's judgements (trec_eval definitions)."""
    relevant = {doc for doc, grade in judgements.items() if grade > 0}
    grades = [judgements.get(doc, 0) for doc in ranking]
    hits = np.array([doc in relevant for doc in ranking], dtype=np.float64)
    ideal = sorted((g for g in judgements.values() if g > 0), reverse=True)
    n_relevant = len(relevant)
    metrics = {}
    for k in k_values:
        top_hits = hits[:k]
        found = top_hits.sum()
        dcg = sum(g / math.log2(i + 2) for i, g in enumerate(grades[:k]) if g > 0)
        idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal[:k]))
        precision_at_hits = np.cumsum(top_hits) / np.arange(1, len(top_hits) + 1)
        first = int(np.argmax(top_hits)) if found else -1
        metrics[f"ndcg_at_{k}"] = dcg / idcg if idcg > 0 else 0.0
        metrics[f"map_at_{k}"] = float((precision_at_hits * top_hits).sum() / n_relevant) if n_relevant else 0.0
        metrics[f"recall_at_{k}"] = float(found / n_relevant) if n_relevant else 0.0
        metrics[f"precision_at_{k}"] = float(found / k)
        metrics[f"hit_rate_at_{k}"] = 1.0 if found else 0.0
        metrics[f"mrr_at_{k}"] = 1.0 / (first + 1) if found else 0.0
    return metrics
