"""Search over the loaded index: `POST /v1/search` and `GET /v1/documents/{doc_id}`."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from emberta.errors import EmbertaError
from emberta.index.filters import FilterError
from emberta.serve.dependencies import JsonBody, LoadedIndex, State
from emberta.serve.errors import ApiError
from emberta.serve.requests import SearchBody

router = APIRouter()


@router.post("/v1/search")
async def search(index: LoadedIndex, body: JsonBody, state: State):  # index first: 404 before reading the body
    """Search the loaded index: {"query", "k": 10, "filter": null, "mode": "dense"|"bm25"|"hybrid"}."""
    request = SearchBody.parse(body)

    def run():
        with state.index_lock:
            return index.search(request.query, request.k, filter=request.filter, mode=request.mode,
                                weights=request.weights)  # fmt: skip

    try:
        hits = await asyncio.get_running_loop().run_in_executor(None, run)
    except FilterError as exc:
        raise ApiError(400, str(exc), param="filter") from None
    except EmbertaError as exc:
        raise ApiError(400, str(exc)) from None
    return {"object": "list", "data": [{"id": h.id, "score": h.score, "text": h.text, "metadata": h.metadata}
                                       for h in hits]}  # fmt: skip


@router.get("/v1/documents/{doc_id}")
async def document(doc_id: str, index: LoadedIndex, state: State):
    """One document of the loaded index by id."""
    with state.index_lock:
        hit = index.get(doc_id)
    if hit is None:
        raise ApiError(404, f"no document with id {doc_id!r}", param="doc_id", code="not_found")
    return {"id": hit.id, "text": hit.text, "metadata": hit.metadata}
