"""OpenAI-compatible embeddings: `POST /v1/embeddings` and `GET /v1/models`."""

from __future__ import annotations

import base64
import json

import numpy as np
from fastapi import APIRouter
from fastapi.responses import Response

from emberta.serve.dependencies import JsonBody, State
from emberta.serve.requests import EmbeddingsBody
from emberta.serve.schema import EMBEDDINGS_REQUEST, EmbeddingList, ModelList, errors, json_body
from emberta.similarity import unit_rows

router = APIRouter()


@router.post(
    "/v1/embeddings",
    responses={200: {"model": EmbeddingList}, **errors(400, 404, 415, 422, 503)},
    openapi_extra=json_body(EMBEDDINGS_REQUEST, "OpenAI's embeddings request"),
)
async def embeddings(body: JsonBody, state: State):
    """Embed `input` (a string or a list of strings) the way OpenAI's endpoint does."""
    request = EmbeddingsBody.parse(body, state.settings, state.encoder)
    vectors, tokens = await state.embed(request.texts)
    if request.dimensions is not None and request.dimensions < vectors.shape[1]:
        vectors = unit_rows(vectors[:, : request.dimensions], np.float32)  # Matryoshka: truncate, then renormalise
    vectors = np.ascontiguousarray(vectors, dtype="<f4")
    if request.encoding_format == "base64":
        items = [base64.b64encode(row.tobytes()).decode("ascii") for row in vectors]
    else:
        items = vectors.tolist()
    payload = {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": item} for i, item in enumerate(items)],
        "model": state.encoder.name,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return Response(json.dumps(payload), media_type="application/json")  # skips FastAPI's slow jsonable_encoder


@router.get("/v1/models", responses={200: {"model": ModelList}, **errors()})
async def models(state: State):
    """The one model this server serves."""
    encoder = state.encoder
    return {"object": "list", "data": [{"id": encoder.name, "object": "model", "created": 0,
                                        "owned_by": "emberta", "dimensions": encoder.dim}]}  # fmt: skip
