"""Retrieval evaluation through an index: the task's corpus goes into a temporary `Index` with the chosen ANN
structure, and the queries are answered by `Index.search_many` (dense, BM25 or hybrid; the same results as
one `Index.search` per query), so nDCG measures what a user of that index would get."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence

import numpy as np

from emberta.errors import OptionError
from emberta.index.search import MODES

INDEX_TOP_K = 100


def index_search_run(
    doc_ids: Sequence[str],
    doc_texts: Sequence[str],
    doc_vectors: np.ndarray,
    query_ids: Sequence[str],
    query_texts: Sequence[str],
    query_vectors: np.ndarray,
    *,
    backend: str = "hnsw",
    mode: str = "dense",
    top_k: int = INDEX_TOP_K,
) -> dict[str, dict[str, float]]:
    """{query id: {doc id: score}} with the `top_k` hits per query from an index built over the corpus.

    backend: "hnsw", "flat", "int8" / "binary" (HNSW over quantized codes, float re-scoring) or a FAISS factory
    string; the HNSW structure is used at every corpus size here (no flat start). mode: dense, bm25, hybrid.
    """
    from emberta.index.index import Index

    if mode not in MODES:
        raise OptionError(f"unknown --search-mode {mode!r}; choose one of {', '.join(MODES)}")
    quantize = backend if backend in ("int8", "binary") else None
    ann = "hnsw" if quantize else backend
    dim = doc_vectors.shape[1]
    run: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="emberta-eval-index-") as folder:
        index = Index.create(
            f"{folder}/index", model=None, dim=dim, fingerprint="evaluation", ann=ann, quantize=quantize,
            ann_params={"flat_below": 0},
        )  # fmt: skip
        try:
            index.add(list(doc_texts), list(doc_ids), vectors=doc_vectors, fingerprint="evaluation", save_ann=False)
            queries = query_vectors if mode == "dense" else list(query_texts)
            vectors = query_vectors if mode == "hybrid" else None
            answers = index.search_many(queries, top_k, mode=mode, vectors=vectors, include=())
            for qid, hits in zip(query_ids, answers, strict=True):
                run[qid] = {hit.id: hit.score for hit in hits}
        finally:
            index.close()
    return run
