"""`POST /v1/classify`: labels and calibrated probabilities of texts, from the classifier the server was started
with (`emberta serve --classifier DIR`). A head on frozen embeddings of the served encoder goes through the same
micro-batcher as /v1/embeddings; other classifiers (finetune, setfit, another encoder) run one request at a time
in a worker thread."""

from __future__ import annotations

import asyncio
import threading

from fastapi import APIRouter
from pydantic import BaseModel

from emberta.serve.dependencies import JsonBody, State
from emberta.serve.errors import ApiError
from emberta.serve.requests import check_texts
from emberta.serve.schema import TEXT, errors, json_body

router = APIRouter()
_lock = threading.Lock()  # a classifier that runs its own model: one request at a time

CLASSIFY_REQUEST = {
    "type": "object",
    "required": ["input"],
    "additionalProperties": False,
    "properties": {"input": {"anyOf": [TEXT, {"type": "array", "items": TEXT, "minItems": 1}]}},
}


class Classification(BaseModel):
    object: str
    index: int
    label: str | list[str]  # a list of labels for a multi-label classifier
    probabilities: dict[str, float]


class ClassificationList(BaseModel):
    object: str
    data: list[Classification]
    model: str
    labels: list[str]


@router.post(
    "/v1/classify",
    responses={200: {"model": ClassificationList}, **errors(400, 404, 415, 422, 503)},
    openapi_extra=json_body(CLASSIFY_REQUEST, "texts to classify: {'input': text or [texts]}"),
)
async def classify(body: JsonBody, state: State):
    """Classify `input` (a string or a list of strings): each text's label and calibrated probabilities."""
    classifier = state.classifier
    if classifier is None:
        raise ApiError(404, "no classifier is loaded; start the server with --classifier DIR", code="no_classifier")
    unknown = sorted(set(body) - {"input"})
    if unknown:
        raise ApiError(400, f"Unrecognized request argument supplied: {unknown[0]}", param=unknown[0])
    if "input" not in body:
        raise ApiError(422, "'input' is a required property", param="input")
    texts = check_texts(body["input"], "input", state.settings)
    if _shares_encoder(classifier, state.encoder):
        vectors, _ = await state.embed(texts)
        logits = classifier.logits_from_embeddings(vectors)
    else:
        logits = await asyncio.to_thread(_logits, classifier, texts)
    proba = classifier.proba_from_logits(logits)
    labels = classifier.labels
    data = [{"object": "classification", "index": i, "label": label,
             "probabilities": {name: float(p) for name, p in zip(labels, row, strict=True)}}
            for i, (label, row) in enumerate(zip(classifier.labels_of(proba), proba, strict=True))]  # fmt: skip
    return {"object": "list", "data": data, "model": str(classifier.folder), "labels": labels}


def _shares_encoder(classifier, encoder) -> bool:
    """Whether the classifier's head reads the served encoder's vectors (then they come from the batcher)."""
    if classifier.head is None or classifier.head_kind == "setfit":
        return False
    return classifier.meta["encoder"].get("fingerprint") == getattr(encoder, "fingerprint", None)


def _logits(classifier, texts: list[str]):
    with _lock:
        return classifier.logits(texts, cache=False)
