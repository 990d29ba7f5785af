"""Search over the loaded index: `POST /v1/search`, `POST /v1/search/batch` and `GET /v1/documents/{doc_id}`."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from emberta.errors import EmbertaError
from emberta.index.filters import FilterError
from emberta.index.highlights import matched_spans
from emberta.serve.dependencies import JsonBody, LoadedIndex, State
from emberta.serve.errors import ApiError
from emberta.serve.requests import BatchSearchBody, SearchBody
from emberta.serve.schema import (
    BATCH_SEARCH_REQUEST,
    SEARCH_REQUEST,
    Document,
    HitList,
    SearchResults,
    errors,
    json_body,
)

router = APIRouter()


@router.post(
    "/v1/search",
    responses={200: {"model": HitList}, **errors(400, 404, 415, 422, 503)},
    openapi_extra=json_body(SEARCH_REQUEST, "a query of the loaded index"),
)
async def search(index: LoadedIndex, body: JsonBody, state: State):  # index first: 404 before reading the body
    """Search the loaded index: {"query", "k": 10, "filter": null, "mode": "dense"|"bm25"|"hybrid",
    "highlight": false}; with highlight, each hit carries the spans of the query words BM25 matches in its text."""
    request = SearchBody.parse(body)

    def run():
        with state.index_lock:
            hits = index.search(request.query, request.k, filter=request.filter, mode=request.mode,
                                weights=request.weights)  # fmt: skip
            return hits, matched_spans(index.store, request.query, hits) if request.highlight else None

    hits, spans = await _searched(run)
    rows = _hit_rows(hits)
    if spans is not None:
        for row, found in zip(rows, spans, strict=True):
            row["highlights"] = found
    return {"object": "list", "data": rows}


@router.post(
    "/v1/search/batch",
    responses={200: {"model": SearchResults}, **errors(400, 404, 415, 422, 503)},
    openapi_extra=json_body(BATCH_SEARCH_REQUEST, "many queries of the loaded index, with shared options"),
)
async def search_batch(index: LoadedIndex, body: JsonBody, state: State):
    """Many searches of the loaded index in one request: {"queries": [...], "k": 10, "filter", "mode", "weights"};
    one result list per query, in order, each as /v1/search would answer it."""
    request = BatchSearchBody.parse(body, state.settings)

    def run():
        with state.index_lock:
            return index.search_many(request.queries, request.k, filter=request.filter, mode=request.mode,
                                     weights=request.weights)  # fmt: skip

    answers = await _searched(run)
    return {
        "object": "list",
        "data": [{"object": "search_result", "index": i, "data": _hit_rows(hits)} for i, hits in enumerate(answers)],
    }


async def _searched(run):
    """Run a search off the event loop; the index's errors become 400s naming the parameter at fault."""
    try:
        return await asyncio.get_running_loop().run_in_executor(None, run)
    except FilterError as exc:
        raise ApiError(400, str(exc), param="filter") from None
    except EmbertaError as exc:
        raise ApiError(400, str(exc)) from None


def _hit_rows(hits) -> list[dict]:
    return [{"id": h.id, "score": h.score, "text": h.text, "metadata": h.metadata} for h in hits]


@router.get("/v1/documents/{doc_id:path}", responses={200: {"model": Document}, **errors(404)})  # ids may hold "/"
async def document(doc_id: str, index: LoadedIndex, state: State):
    """One document of the loaded index by id."""
    with state.index_lock:
        hit = index.get(doc_id)
    if hit is None:
        raise ApiError(404, f"no document with id {doc_id!r}", param="doc_id", code="not_found")
    return {"id": hit.id, "text": hit.text, "metadata": hit.metadata}
