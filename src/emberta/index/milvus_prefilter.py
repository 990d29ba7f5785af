"""Filtered dense search on Milvus Lite, as the local index does it (search.py): Milvus Lite hands a filter to
FAISS HNSW as a selector at the collection's search breadth, so a filter that few documents pass loses recall and
can return fewer than k hits while k pass. So, first the number of passing documents is counted (once per filter
until the next write); when at most EXACT_BELOW pass, their vectors are scored exactly (numpy, like the local
index's exact scan); otherwise the breadth grows with 1 / selectivity. A Milvus server decides this itself
(Knowhere falls back to brute force on selective filters) and is searched directly."""

from __future__ import annotations

import json

import numpy as np

from emberta.index.milvus_collection import milvus_errors
from emberta.index.search import EXACT_BELOW

LITE_EF = 64  # Milvus Lite's default HNSW search breadth
MAX_EF = 4096


def passing_count(index, search: dict) -> int:
    """How many documents of `index` (a MilvusIndex) pass the search's filter, remembered per filter in
    `index.passing_counts` until the index writes again (Milvus Lite counts by reading the passing rows, so a
    filter passing half of a big collection takes long to count; a Lite file has one writer, this process)."""
    key = (search["filter"], json.dumps(search["filter_params"], sort_keys=True))
    if key not in index.passing_counts:
        with milvus_errors(index.uri, "counting the documents a filter passes"):
            rows = index.client.query(index.collection, filter=search["filter"], output_fields=["count(*)"],
                                      filter_params=search["filter_params"] or {})  # fmt: skip
        index.passing_counts[key] = int(rows[0]["count(*)"])
    return index.passing_counts[key]


def filtered_dense(index, matrix: np.ndarray, k: int, search: dict, ef: int | None, search_ann) -> list[list[tuple]]:
    """(id, score, entity) lists, best first, of a filtered dense search of Milvus Lite. search_ann(ef) runs the
    collection's own search at breadth ef."""
    passing = passing_count(index, search)
    if passing == 0:
        return [[] for _ in matrix]
    if passing <= EXACT_BELOW:
        return _exact(index, matrix, k, search, passing)
    total = passing_count(index, {"filter": "", "filter_params": None})
    return search_ann(int(min(max(ef or LITE_EF, k) * total / passing, MAX_EF)))


def _exact(index, matrix: np.ndarray, k: int, search: dict, passing: int) -> list[list[tuple]]:
    fields = [f for f in search["output_fields"] if f != "id"]
    with milvus_errors(index.uri, "reading the vectors a filter passes"):
        rows = index.client.query(index.collection, filter=search["filter"], output_fields=["vector", *fields],
                                  filter_params=search["filter_params"] or {}, limit=passing)  # fmt: skip
    vectors = np.asarray([r["vector"] for r in rows], dtype=np.float32)
    scores = np.asarray(matrix, dtype=np.float32) @ vectors.T
    ids = [r["id"] for r in rows]
    entities = [{f: r.get(f) for f in fields} for r in rows]
    answers = []
    for row in scores:
        top = np.lexsort((np.arange(len(row)), -row))[:k]
        answers.append([(ids[i], float(row[i]), entities[i]) for i in top])
    return answers
