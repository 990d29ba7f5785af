"""What the loaded index holds: `GET /v1/index/overview` (documents, model, metadata fields and their values),
which the web page shows and builds its filters from."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from emberta.serve.dependencies import LoadedIndex, State
from emberta.serve.schema import IndexOverview, errors

router = APIRouter()


@router.get("/v1/index/overview", responses={200: {"model": IndexOverview}, **errors(404)})
async def overview(index: LoadedIndex, state: State):
    """The loaded index at a glance: its documents, the model of its vectors, and each metadata field filters
    can name, with how many documents have it, its distinct values, its range (numbers) and most common values."""

    def run():
        with state.index_lock:
            return index.overview()

    summary = await asyncio.get_running_loop().run_in_executor(None, run)  # numpy passes over the filter columns
    return {"object": "index_overview", **summary}
