"""Ranking the documents of an index snapshot: dense (cosine), BM25 and hybrid (reciprocal-rank fusion), with
metadata pre-filters. `Index.search` validates the request and the query, then calls `rank` and `hits`.

Dense search with a filter evaluates the filter over the snapshot's in-memory columns into a mask of slots and
hands it to FAISS as a selector (pre-filtering), so results are drawn only from passing documents. When few
documents pass (at most `exact_below`, or a fraction `exact_fraction` of the index) the ANN is skipped for an
exact scan of just those vectors, which is both faster and exact there; and when the ANN still returns fewer
than k results while k documents pass, the exact scan fills in. So a query returns k hits whenever k pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emberta.errors import OptionError
from emberta.index.documents import DocumentStore
from emberta.index.filters import evaluate
from emberta.index.fusion import reciprocal_rank_fusion
from emberta.index.types import Hit, Snapshot

MODES = ("dense", "bm25", "hybrid")
EXACT_BELOW = 2048
EXACT_FRACTION = 0.1
RESCORE = {"int8": 4, "binary": 10}
HYBRID_CANDIDATES = 100
HUBNESS = (None, "csls")
HUBNESS_SHORTLIST = 50
HUBNESS_NEIGHBOURS = 10


def check_mode(mode: str) -> None:
    """OptionError unless `mode` is one of MODES."""
    if mode not in MODES:
        raise OptionError(f"unknown search mode {mode!r}; choose one of {', '.join(MODES)}")


@dataclass(frozen=True)
class SearchRequest:
    """The options of one search, checked. filter: an expression such as "lang = 'en' and year >= 2020";
    mode: dense, bm25 or hybrid; weights: (dense, bm25) for hybrid; ef: HNSW breadth; exact: skip the ANN;
    rescore: shortlist factor of quantized indexes; vector: the query's vector when already computed (hybrid
    search of a text without re-encoding); include: what hits carry besides id and score (() skips reading
    texts and metadata); hubness: "csls" re-ranks a dense shortlist by 2 cos(q, d) - r(d), r(d) the mean cosine
    of d to its 10 nearest documents (Conneau et al. 2018), so hubs stop crowding results."""

    k: int = 10
    filter: str | None = None
    mode: str = "dense"
    weights: tuple[float, float] = (1.0, 1.0)
    ef: int | None = None
    exact: bool = False
    rescore: int | None = None
    exact_below: int = EXACT_BELOW
    exact_fraction: float = EXACT_FRACTION
    vector: np.ndarray | None = None
    include: tuple[str, ...] = ("text", "metadata")
    hubness: str | None = None

    def __post_init__(self):
        check_mode(self.mode)
        if self.hubness not in HUBNESS:
            raise OptionError(f"unknown hubness re-scoring {self.hubness!r}; choose csls (or leave it out)")
        if self.hubness and self.mode != "dense":
            raise OptionError("hubness re-scoring applies to dense search")
        if not isinstance(self.k, int) or self.k < 1:
            raise OptionError(f"k must be a positive whole number, got {self.k!r}")

    def query_text(self, query) -> str | None:
        """The query as text (None for a vector query), checked against the mode."""
        text = query if isinstance(query, str) else None
        if self.mode != "dense" and text is None:
            raise OptionError(f"{self.mode} search needs a text query")
        if text is not None and not text.strip():
            raise OptionError("the query is empty; type some words to search for")
        return text

    @property
    def shortlist(self) -> int:
        """How many dense results to fetch before fusion or re-ranking."""
        if self.mode == "hybrid":
            return max(self.k, HYBRID_CANDIDATES)
        return max(self.k, HUBNESS_SHORTLIST, 5 * self.k) if self.hubness else self.k


def rank(snapshot: Snapshot, store: DocumentStore, request: SearchRequest, tree, text: str | None,
         vector: np.ndarray | None) -> list[tuple[int, float]]:  # fmt: skip
    """(slot, score) of the best request.k documents, best first. tree: the parsed filter or None; text: the
    query text (bm25, hybrid); vector: the prepared query vector (dense, hybrid)."""
    k = request.k
    if request.mode == "bm25":
        return store.bm25(text, k, tree)
    dense = dense_search(snapshot, vector, request.shortlist, tree, **_dense_options(request))
    if request.hubness:
        return _csls(snapshot, dense, k)
    if request.mode == "dense":
        return dense
    lexical = store.bm25(text, max(k, HYBRID_CANDIDATES), tree)
    return reciprocal_rank_fusion([[s for s, _ in dense], [s for s, _ in lexical]], request.weights)[:k]


def hits(snapshot: Snapshot, store: DocumentStore, scored: list[tuple[int, float]], include) -> list[Hit]:
    """Hits for (slot, score) pairs, with texts and metadata read from `store` as `include` asks."""
    return hits_many(snapshot, store, [scored], include)[0]


def rank_many(snapshot: Snapshot, store: DocumentStore, request: SearchRequest, tree, texts: list[str] | None,
              vectors: np.ndarray | None) -> list[list[tuple[int, float]]]:  # fmt: skip
    """`rank` for many queries at once (texts and/or vectors (n, dim), row i for query i): plain dense search
    goes through `dense_search_many`, the other modes one query at a time over the same snapshot."""
    if request.mode == "dense" and not request.hubness:
        return dense_search_many(snapshot, vectors, request.shortlist, tree, **_dense_options(request))
    count = len(texts) if texts is not None else len(vectors)
    return [
        rank(
            snapshot, store, request, tree, None if texts is None else texts[i], None if vectors is None else vectors[i]
        )
        for i in range(count)
    ]


def hits_many(snapshot: Snapshot, store: DocumentStore, scored: list[list[tuple[int, float]]],
              include) -> list[list[Hit]]:  # fmt: skip
    """`hits` for many queries' (slot, score) lists, reading all their documents in one pass. A slot whose
    document is no longer in `store` (another process retired it since the snapshot) is left out."""
    if not include:
        ids, new = snapshot.ids, tuple.__new__  # what Hit._make does, without its call and length check per hit
        return [[new(Hit, (ids[slot], score, None, None)) for slot, score in one] for one in scored]
    docs = store.documents(sorted({slot for one in scored for slot, _ in one}))
    text, meta = "text" in include, "metadata" in include
    return [
        [
            Hit(docs[slot][0], float(score), docs[slot][1] if text else None, docs[slot][2] if meta else None)
            for slot, score in one
            if slot in docs
        ]
        for one in scored
    ]


def _dense_options(request: SearchRequest) -> dict:
    return dict(ef=request.ef, exact=request.exact, rescore=request.rescore, exact_below=request.exact_below,
                exact_fraction=request.exact_fraction)  # fmt: skip


def dense_search_many(snapshot: Snapshot, vectors: np.ndarray, k: int, tree=None, **options) -> list[list[tuple]]:
    """`dense_search` for each row of `vectors` (n, dim), with the filter evaluated once. With no filter, no
    deletion and float vectors in the ANN, one FAISS call answers every row; a row it cannot fill, and every row
    otherwise, takes the one-query path."""
    allowed = _allowed(snapshot, tree)
    ann = snapshot.ann
    if allowed is None and not options.get("exact") and ann.spec.quantize is None and snapshot.slots >= k:
        scores, found = ann.search_batch(vectors, k, None, options.get("ef"))
        complete = found[:, -1] >= 0
        slot_rows, score_rows = found.tolist(), scores.tolist()  # one conversion for the whole batch
        return [
            list(zip(slot_rows[i], score_rows[i], strict=True))
            if complete[i]
            else _dense(snapshot, vectors[i], k, None, **options)
            for i in range(len(vectors))
        ]
    return [_dense(snapshot, vector, k, allowed, **options) for vector in vectors]


def dense_search(snapshot: Snapshot, vector: np.ndarray, k: int, tree=None, **options) -> list[tuple[int, float]]:
    """(slot, cosine) of the best `k` live documents passing `tree`, best first. options: ef, exact, rescore,
    exact_below, exact_fraction (see SearchRequest)."""
    return _dense(snapshot, vector, k, _allowed(snapshot, tree), **options)


def _dense(
    snapshot: Snapshot, vector: np.ndarray, k: int, allowed: np.ndarray | None, *, ef=None, exact=False,
    rescore=None, exact_below: int = EXACT_BELOW, exact_fraction: float = EXACT_FRACTION,
) -> list[tuple[int, float]]:  # fmt: skip
    ann, slots = snapshot.ann, snapshot.slots
    quantize = ann.spec.quantize
    if allowed is None and not exact and quantize is None and slots >= k:
        scores, found = ann.search(vector, k, None, ef)  # no filter, no deletions: the graph's answer is final
        if found[-1] >= 0:
            return list(zip(found.tolist(), scores.tolist(), strict=True))
    passing = int(allowed.sum()) if allowed is not None else slots
    if passing == 0:
        return []
    k = min(k, passing)
    small = passing <= max(exact_below, exact_fraction * slots)
    if exact or (allowed is not None and small):
        return _exact(snapshot, vector, k, allowed)
    fetch = k * (rescore or RESCORE.get(quantize, 1))
    search_ef = ef
    if allowed is not None:
        selectivity = passing / slots
        search_ef = int(min(max(ef or ann.spec.ef_search, k) / selectivity, 4096)) if selectivity < 1 else ef
        if ann.binary:  # no selector: fetch more and drop what fails the filter
            fetch = int(min(fetch / selectivity, slots))
    scores, found = ann.search(vector, fetch, allowed, ef=search_ef)
    keep = found >= 0
    scores, found = scores[keep], found[keep]
    if quantize:
        scores = _rescore(snapshot, vector, found)
    order = np.argsort(-scores, kind="stable")[:k]
    if len(order) < k:  # the graph ran out of passing neighbours: exact scan of the passing documents
        return _exact(snapshot, vector, k, allowed)
    return [(int(found[i]), float(scores[i])) for i in order]


def _allowed(snapshot: Snapshot, tree) -> np.ndarray | None:
    """The slots a dense search may return, as a mask over the ANN's slots, or None for all of them. The ANN of a
    snapshot may have grown since it was taken (this process added documents, into the same structure): the
    slots past the snapshot's are hidden."""
    extra = snapshot.ann.ntotal - snapshot.slots
    if tree is None and snapshot.all_live and extra <= 0:
        return None
    allowed = snapshot.live if tree is None else evaluate(tree, snapshot.columns) & snapshot.live
    return np.concatenate([allowed, np.zeros(extra, dtype=bool)]) if extra > 0 else allowed


def _rescore(snapshot: Snapshot, vector: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """Exact cosines of a quantized shortlist, from the float vectors on disk."""
    if len(slots) == 0:
        return np.zeros(0, dtype=np.float32)
    order = np.argsort(slots)
    scores = np.empty(len(slots), dtype=np.float32)
    scores[order] = np.asarray(snapshot.vectors[slots[order]]) @ vector
    return scores


def _exact(snapshot: Snapshot, vector: np.ndarray, k: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
    if snapshot.ann.ntotal == snapshot.slots and (found := snapshot.ann.exact(vector, k, allowed)) is not None:
        scores, slots = found
        return [(int(s), float(c)) for s, c in zip(slots, scores, strict=True) if s >= 0]
    if allowed is None:
        candidates = np.arange(snapshot.slots)
        scores = np.asarray(snapshot.vectors) @ vector
    else:
        candidates = np.flatnonzero(allowed)
        scores = np.asarray(snapshot.vectors[candidates]) @ vector
    k = min(k, len(candidates))
    top = np.argpartition(-scores, k - 1)[:k] if k < len(candidates) else np.arange(len(candidates))
    top = top[np.lexsort((candidates[top], -scores[top]))]
    return [(int(candidates[i]), float(scores[i])) for i in top]


def _csls(snapshot: Snapshot, scored: list[tuple[int, float]], k: int) -> list[tuple[int, float]]:
    """Re-rank (slot, cosine) pairs by CSLS, 2 cos - r(d); the query's own r is the same for every document
    and is left out."""
    if not scored:
        return scored
    slots = np.array([s for s, _ in scored], dtype=np.int64)
    cosines = np.array([c for _, c in scored], dtype=np.float32)
    csls = 2 * cosines - neighbourhood_means(snapshot, slots)
    order = np.argsort(-csls, kind="stable")[:k]
    return [(int(slots[i]), float(csls[i])) for i in order]


def neighbourhood_means(snapshot: Snapshot, slots: np.ndarray) -> np.ndarray:
    """r(d) for each slot: the mean cosine of document d to its HUBNESS_NEIGHBOURS nearest live documents
    (itself excluded), found with the ANN and scored with the float vectors; remembered in the snapshot."""
    memo = snapshot.neighbourhood
    missing = np.sort(np.array([s for s in dict.fromkeys(slots.tolist()) if s not in memo], dtype=np.int64))
    if len(missing):
        allowed = _allowed(snapshot, None)
        for slot, row in zip(missing, np.asarray(snapshot.vectors[missing]), strict=True):
            _, found = snapshot.ann.search(row, HUBNESS_NEIGHBOURS + 1, allowed)
            found = found[(found >= 0) & (found != slot)][:HUBNESS_NEIGHBOURS]
            memo[int(slot)] = float(np.mean(np.asarray(snapshot.vectors[np.sort(found)]) @ row)) if len(found) else 0.0
    return np.array([memo[int(s)] for s in slots], dtype=np.float32)
