"""`POST /v1/similarity`: the cosine similarity of two texts."""

from __future__ import annotations

from fastapi import APIRouter

from emberta.serve.dependencies import JsonBody, State
from emberta.serve.requests import SimilarityBody
from emberta.serve.schema import SIMILARITY_REQUEST, Similarity, errors, json_body

router = APIRouter()


@router.post(
    "/v1/similarity",
    responses={200: {"model": Similarity}, **errors(400, 415, 422, 503)},
    openapi_extra=json_body(SIMILARITY_REQUEST, "two texts, 'a' and 'b'"),
)
async def similarity(body: JsonBody, state: State):
    """Cosine similarity of two texts: {"a": "...", "b": "..."} -> {"score": float}."""
    request = SimilarityBody.parse(body, state.settings)
    vectors, _ = await state.embed([request.a, request.b])
    score = float(state.encoder.similarity(vectors[:1], vectors[1:])[0, 0])
    return {"object": "similarity", "score": score, "model": state.encoder.name}
