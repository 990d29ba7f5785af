"""Searching an index: dense (cosine), BM25 and hybrid (reciprocal-rank fusion), with metadata pre-filters.

Dense search with a filter evaluates the filter over in-memory columns into a mask of slots and hands it to
FAISS as a selector (pre-filtering), so results are drawn only from passing documents. When few documents
pass (at most `exact_below`, or a fraction `exact_fraction` of the index) the ANN is skipped for an exact scan
of just those vectors, which is both faster and exact there; and when the ANN still returns fewer than k
results while k documents pass, the exact scan fills in. So a query returns k hits whenever k pass.
"""

from __future__ import annotations

import math

import numpy as np

from emberta.errors import OptionError
from emberta.index.filters import evaluate, parse_filter
from emberta.index.fusion import reciprocal_rank_fusion
from emberta.index.index import Hit

MODES = ("dense", "bm25", "hybrid")
EXACT_BELOW = 2048
EXACT_FRACTION = 0.1
RESCORE = {"int8": 4, "binary": 10}
HYBRID_CANDIDATES = 100
HUBNESS = (None, "csls")
HUBNESS_SHORTLIST = 50
HUBNESS_NEIGHBOURS = 10


def search(
    index,
    query,
    k: int = 10,
    *,
    filter: str | None = None,
    mode: str = "dense",
    weights: tuple[float, float] = (1.0, 1.0),
    ef: int | None = None,
    exact: bool = False,
    rescore: int | None = None,
    exact_below: int = EXACT_BELOW,
    exact_fraction: float = EXACT_FRACTION,
    vector: np.ndarray | None = None,
    include: tuple[str, ...] = ("text", "metadata"),
    hubness: str | None = None,
):
    """The `k` best documents of `index` for `query` (text, or a vector for dense mode), as Hits, best first.
    vector: the query's vector when already computed (hybrid search of a text query without re-encoding).
    include: what hits carry besides id and score; () skips reading texts and metadata from SQLite.
    hubness: "csls" re-ranks a dense shortlist by 2 cos(q, d) - r(d), r(d) the mean cosine of d to its 10
    nearest documents (Conneau et al. 2018), so hubs (documents near everything) stop crowding results."""
    if mode not in MODES:
        raise OptionError(f"unknown search mode {mode!r}; choose one of {', '.join(MODES)}")
    if hubness not in HUBNESS:
        raise OptionError(f"unknown hubness re-scoring {hubness!r}; choose csls (or leave it out)")
    if hubness and mode != "dense":
        raise OptionError("hubness re-scoring applies to dense search")
    if not isinstance(k, int) or k < 1:
        raise OptionError(f"k must be a positive whole number, got {k!r}")
    text = query if isinstance(query, str) else None
    if mode != "dense" and text is None:
        raise OptionError(f"{mode} search needs a text query")
    if text is not None and not text.strip():
        raise OptionError("the query is empty; type some words to search for")
    index._maybe_refresh()
    tree = parse_filter(filter, index.store.fields()) if filter is not None else None
    if mode == "bm25":
        scored = index.store.bm25(text, k, tree)
    else:
        if vector is not None:
            vector = _query_vector(index, vector)
        else:
            vector = index.embed([text], query=True)[0] if text is not None else _query_vector(index, query)
        wanted = max(k, HYBRID_CANDIDATES) if mode == "hybrid" else max(k, HUBNESS_SHORTLIST, 5 * k) if hubness else k
        dense = dense_search(
            index,
            vector,
            wanted,
            tree,
            ef=ef,
            exact=exact,
            rescore=rescore,
            exact_below=exact_below,
            exact_fraction=exact_fraction,
        )
        if hubness:
            scored = _csls(index, dense, k)
        elif mode == "dense":
            scored = dense
        else:
            lexical = index.store.bm25(text, max(k, HYBRID_CANDIDATES), tree)
            fused = reciprocal_rank_fusion([[s for s, _ in dense], [s for s, _ in lexical]], weights)
            scored = fused[:k]
    if not include:
        index.live_and_columns(refresh=False)
        ids = index.ids
        return [Hit(ids[slot], score, None, None) for slot, score in scored]
    docs = index.store.documents([slot for slot, _ in scored])
    text, meta = "text" in include, "metadata" in include
    return [
        Hit(docs[slot][0], float(score), docs[slot][1] if text else None, docs[slot][2] if meta else None)
        for slot, score in scored
        if slot in docs
    ]


def _query_vector(index, query) -> np.ndarray:
    vector = np.asarray(query, dtype=np.float32)
    if vector.ndim == 1 and vector.shape[0] == index.dim and not index.transforms:  # the common case, fast
        norm = math.sqrt(float(np.dot(vector, vector)))
        return vector / norm if norm > 0 else vector
    if vector.ndim == 2 and vector.shape[0] == 1:
        vector = vector[0]
    if vector.ndim != 1 or vector.shape[0] != index.dim:
        raise OptionError(f"a query vector of shape {vector.shape}; this index takes vectors of width {index.dim}")
    if index.transforms:
        return index.prepare(vector[None, :])[0]
    norm = float(np.sqrt(vector @ vector))
    return vector / norm if norm > 0 else vector


def dense_search(
    index,
    vector: np.ndarray,
    k: int,
    tree=None,
    *,
    ef=None,
    exact=False,
    rescore=None,
    exact_below: int = EXACT_BELOW,
    exact_fraction: float = EXACT_FRACTION,
) -> list[tuple[int, float]]:
    """(slot, cosine) of the best `k` live documents passing `tree`, best first."""
    live, columns = index.live_and_columns(refresh=False)
    ann = index.ann
    if tree is None and index.all_live and not exact and ann.spec.quantize is None and index.slots >= k:
        scores, found = ann.search(vector, k, None, ef)  # no filter, no deletions: the graph's answer is final
        if found[-1] >= 0:
            return list(zip(found.tolist(), scores.tolist(), strict=True))
    slots = index.slots
    allowed = None
    if tree is not None:
        allowed = evaluate(tree, columns) & live
    elif not index.all_live:
        allowed = live
    passing = int(allowed.sum()) if allowed is not None else slots
    if passing == 0:
        return []
    k = min(k, passing)
    small = passing <= max(exact_below, exact_fraction * slots)
    if exact or (allowed is not None and small):
        return _exact(index, vector, k, allowed)
    quantize = index.ann_spec.quantize
    fetch = k * (rescore or RESCORE.get(quantize, 1))
    search_ef = ef
    if allowed is not None:
        selectivity = passing / slots
        search_ef = int(min(max(ef or index.ann_spec.ef_search, k) / selectivity, 4096)) if selectivity < 1 else ef
        if ann.binary:  # no selector: fetch more and drop what fails the filter
            fetch = int(min(fetch / selectivity, slots))
    scores, found = ann.search(vector, fetch, allowed, ef=search_ef)
    keep = found >= 0
    scores, found = scores[keep], found[keep]
    if quantize:
        scores = _rescore(index, vector, found)
    order = np.argsort(-scores, kind="stable")[:k]
    if len(order) < k:  # the graph ran out of passing neighbours: exact scan of the passing documents
        return _exact(index, vector, k, allowed)
    return [(int(found[i]), float(scores[i])) for i in order]


def _rescore(index, vector: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """Exact cosines of a quantized shortlist, from the float vectors on disk."""
    if len(slots) == 0:
        return np.zeros(0, dtype=np.float32)
    view = index.vectors.view(index.slots)
    order = np.argsort(slots)
    scores = np.empty(len(slots), dtype=np.float32)
    scores[order] = np.asarray(view[slots[order]]) @ vector
    return scores


def _exact(index, vector: np.ndarray, k: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
    if index.ann.ntotal == index.slots and (found := index.ann.exact(vector, k, allowed)) is not None:
        scores, slots = found
        return [(int(s), float(c)) for s, c in zip(slots, scores, strict=True) if s >= 0]
    view = index.vectors.view(index.slots)
    if allowed is None:
        candidates = np.arange(index.slots)
        scores = np.asarray(view) @ vector
    else:
        candidates = np.flatnonzero(allowed)
        scores = np.asarray(view[candidates]) @ vector
    k = min(k, len(candidates))
    top = np.argpartition(-scores, k - 1)[:k] if k < len(candidates) else np.arange(len(candidates))
    top = top[np.lexsort((candidates[top], -scores[top]))]
    return [(int(candidates[i]), float(scores[i])) for i in top]


def _csls(index, scored: list[tuple[int, float]], k: int) -> list[tuple[int, float]]:
    """Re-rank (slot, cosine) pairs by CSLS, 2 cos - r(d); the query's own r is the same for every document
    and is left out."""
    if not scored:
        return scored
    slots = np.array([s for s, _ in scored], dtype=np.int64)
    cosines = np.array([c for _, c in scored], dtype=np.float32)
    csls = 2 * cosines - neighbourhood_means(index, slots)
    order = np.argsort(-csls, kind="stable")[:k]
    return [(int(slots[i]), float(csls[i])) for i in order]


def neighbourhood_means(index, slots: np.ndarray) -> np.ndarray:
    """r(d) for each slot: the mean cosine of document d to its HUBNESS_NEIGHBOURS nearest live documents
    (itself excluded), found with the ANN and scored with the float vectors; remembered until the next write."""
    cache = index.hub_cache()
    missing = np.array([s for s in dict.fromkeys(slots.tolist()) if s not in cache], dtype=np.int64)
    if len(missing):
        view = index.vectors.view(index.slots)
        live = index.live_and_columns(refresh=False)[0]
        rows = np.asarray(view[np.sort(missing)])
        for slot, row in zip(np.sort(missing), rows, strict=True):
            _, found = index.ann.search(row, HUBNESS_NEIGHBOURS + 1, None if index.all_live else live)
            found = found[(found >= 0) & (found != slot)][:HUBNESS_NEIGHBOURS]
            cache[int(slot)] = float(np.mean(np.asarray(view[np.sort(found)]) @ row)) if len(found) else 0.0
    return np.array([cache[int(s)] for s in slots], dtype=np.float32)
