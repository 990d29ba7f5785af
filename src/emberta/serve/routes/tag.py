"""`POST /v1/tag`: the tags of texts (cut into words with character offsets) or of lists of words, from the
tagger the server was started with (`emberta serve --tagger DIR`). The tagger runs its own model, so requests
take turns in a worker thread, as fine-tuned classifiers do on /v1/classify; the same limits and API key apply."""

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
_lock = threading.Lock()  # one tagging request at a time

WORDS = {"type": "array", "items": TEXT, "minItems": 1}
TAG_REQUEST = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "input": {"anyOf": [TEXT, {"type": "array", "items": TEXT, "minItems": 1}]},
        "tokens": {"type": "array", "items": WORDS, "minItems": 1},
    },
    "oneOf": [{"required": ["input"]}, {"required": ["tokens"]}],
}


class TaggedToken(BaseModel):
    text: str
    tag: str
    score: float
    start: int | None = None  # character offsets [start, end) into the text (texts only)
    end: int | None = None


class Entity(BaseModel):
    type: str
    text: str
    score: float
    start: int | None = None
    end: int | None = None
    first_token: int
    last_token: int  # inclusive


class Tagging(BaseModel):
    object: str
    index: int
    tokens: list[TaggedToken]
    entities: list[Entity]


class TaggingList(BaseModel):
    object: str
    data: list[Tagging]
    model: str
    tags: list[str]


@router.post(
    "/v1/tag",
    responses={200: {"model": TaggingList}, **errors(400, 404, 415, 422)},
    openapi_extra=json_body(TAG_REQUEST, "texts to tag: {'input': text or [texts]}, or words: {'tokens': [[words]]}"),
)
async def tag(body: JsonBody, state: State):
    """Tag `input` (a string or a list of strings, cut into words by the model's pre-tokenizer) or `tokens` (a
    list of word lists): each word's tag and probability, and the entities they form."""
    tagger = state.tagger
    if tagger is None:
        raise ApiError(404, "no tagger is loaded; start the server with --tagger DIR", code="no_tagger")
    unknown = sorted(set(body) - {"input", "tokens"})
    if unknown:
        raise ApiError(400, f"Unrecognized request argument supplied: {unknown[0]}", param=unknown[0])
    if ("input" in body) == ("tokens" in body):
        raise ApiError(422, "give one of 'input' (texts) or 'tokens' (lists of words)", param="input")
    if "input" in body:
        texts = check_texts(body["input"], "input", state.settings)
        results = await asyncio.to_thread(_run, tagger.predict_text, texts)
    else:
        words = _check_words(body["tokens"], state.settings)
        results = await asyncio.to_thread(_run, _tag_words, tagger, words)
    data = [{"object": "tagging", "index": i, **result} for i, result in enumerate(results)]
    return {"object": "list", "data": data, "model": str(tagger.folder), "tags": tagger.tags}


def _check_words(value, settings) -> list[list[str]]:
    """`value` as lists of words: at most max_inputs lists, each of non-empty strings with at most
    max_input_chars characters together."""
    if not isinstance(value, list) or not value:
        raise ApiError(422, "'tokens' must be a non-empty list of lists of words", param="tokens")
    if len(value) > settings.max_inputs:
        raise ApiError(413, f"{len(value)} inputs; at most {settings.max_inputs} per request", param="tokens")
    for i, row in enumerate(value):
        if not isinstance(row, list) or not row or not all(isinstance(word, str) and word for word in row):
            raise ApiError(422, f"'tokens[{i}]' must be a non-empty list of non-empty strings", param="tokens")
        if sum(len(word) for word in row) > settings.max_input_chars:
            raise ApiError(413, f"'tokens[{i}]' has more than {settings.max_input_chars} characters", param="tokens")
    return value


def _tag_words(tagger, sentences: list[list[str]]) -> list[dict]:
    from emberta.classify.tagging.schemes import entity_spans

    out = []
    for words, (tags, scores) in zip(sentences, tagger.predict_tokens(sentences, with_scores=True), strict=True):
        tokens = [{"text": w, "tag": t, "score": s} for w, t, s in zip(words, tags, scores, strict=True)]
        entities = [] if tagger.scheme == "none" else [
            {"type": kind, "text": " ".join(words[a:b]), "score": round(sum(scores[a:b]) / (b - a), 6),
             "first_token": a, "last_token": b - 1} for kind, a, b in entity_spans(tags)]  # fmt: skip
        out.append({"tokens": tokens, "entities": entities})
    return out


def _run(function, *args):
    with _lock:
        return function(*args)
