"""What the OpenAPI document (/openapi.json, /docs) says each endpoint takes and answers, errors included, so
that clients and schema-driven tests can rely on it. Documentation only: the routes read their bodies themselves
(requests.py) and answer plain dicts, so nothing here runs per request."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorBody(BaseModel):
    """OpenAI's error shape; no response carries a stack trace."""

    error: ErrorDetail


class Embedding(BaseModel):
    object: Literal["embedding"]
    index: int
    embedding: list[float] | str  # a string with encoding_format "base64": little-endian float32


class Usage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(BaseModel):
    object: Literal["list"]
    data: list[Embedding]
    model: str
    usage: Usage


class Model(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str
    dimensions: int


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[Model]


class Similarity(BaseModel):
    object: Literal["similarity"]
    score: float
    model: str


class Document(BaseModel):
    id: str
    text: str
    metadata: dict[str, Any]


class Hit(Document):
    score: float
    # with "highlight": true: [start, end) character offsets of the query's words that BM25 matches in `text`
    highlights: list[tuple[int, int]] | None = None


class HitList(BaseModel):
    object: Literal["list"]
    data: list[Hit]


class SearchResult(BaseModel):
    object: Literal["search_result"]
    index: int
    data: list[Hit]


class SearchResults(BaseModel):
    object: Literal["list"]
    data: list[SearchResult]


class FieldValue(BaseModel):
    value: str | float | bool | None  # null: a number JSON cannot hold (an infinity)
    count: int


class FieldSummary(BaseModel):
    name: str
    type: Literal["number", "text", "bool"]
    documents: int  # how many documents have a value
    distinct: int
    values: list[FieldValue]  # the most common, most common first
    min: float | None = None  # numbers only
    max: float | None = None


class IndexModel(BaseModel):
    name: str | None  # null for an index built from vectors only
    spec: str | None
    fingerprint: str
    dim: int


class IndexOverview(BaseModel):
    object: Literal["index_overview"]
    documents: int
    model: IndexModel
    fields: list[FieldSummary]


class Report(BaseModel):
    name: str
    title: str
    bytes: int
    modified: str  # ISO 8601, UTC


class ReportList(BaseModel):
    object: Literal["list"]
    data: list[Report]


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "starting"]
    model: str | None = None
    index: str | None = None


ERROR_CAUSES = {
    400: "malformed JSON, an unknown request field, or a value the index refuses (a bad filter or mode)",
    401: "a missing or incorrect API key (when the server has one)",
    404: "no such model, document, report, loaded index or reports folder",
    413: "a body, input list or text over the server's limits",
    415: "a body declared as something other than JSON",
    422: "a field of the wrong type or out of range",
    500: "an unexpected failure (the log has the details)",
    503: "the encoding queue is full; retry after the Retry-After header's seconds",
}


def errors(*statuses: int, guarded: bool = True, text_route: bool = False) -> dict[int | str, dict[str, Any]]:
    """The `responses` entries of the error statuses `statuses` plus 413 and 500, which any endpoint may answer,
    and 401 when `guarded` (behind the API key), each with OpenAI's error body. A `text_route` (one whose answer
    is text) names the body by reference: given a model, FastAPI would declare it as text too."""
    wanted = sorted({*statuses, 413, 500} | ({401} if guarded else set()))
    if text_route:
        content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
        return {status: {"content": content, "description": ERROR_CAUSES[status]} for status in wanted}
    return {status: {"model": ErrorBody, "description": ERROR_CAUSES[status]} for status in wanted}


def json_body(schema: dict, description: str) -> dict:
    """`openapi_extra` declaring a required JSON request body of `schema` (JSON Schema)."""
    return {"requestBody": {"required": True, "description": description,
                            "content": {"application/json": {"schema": schema}}}}  # fmt: skip


TEXT = {"type": "string", "minLength": 1}
ONE_TEXT = {"anyOf": [TEXT, {"type": "array", "items": TEXT, "minItems": 1, "maxItems": 1}]}
EMBEDDINGS_REQUEST = {
    "type": "object",
    "required": ["input"],
    "additionalProperties": False,
    "properties": {
        "input": {"anyOf": [TEXT, {"type": "array", "items": TEXT, "minItems": 1}]},
        "model": {"type": "string", "description": "the served model's name, its last path part, or 'default'"},
        "encoding_format": {"enum": ["float", "base64"]},
        "dimensions": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}]},
        "user": {"description": "ignored"},
    },
}
SIMILARITY_REQUEST = {"type": "object", "required": ["a", "b"], "properties": {"a": ONE_TEXT, "b": ONE_TEXT}}
SEARCH_REQUEST = {
    "type": "object",
    "required": ["query"],
    "additionalProperties": False,
    "properties": {
        "query": {"type": "string", "pattern": "\\S"},
        "k": {"type": "integer", "minimum": 1, "maximum": 1000},
        "filter": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "mode": {"enum": ["dense", "bm25", "hybrid"]},
        "weights": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
        "highlight": {"type": "boolean", "description": "give each hit the spans of the query words BM25 matches"},
    },
}

BATCH_SEARCH_REQUEST = {
    "type": "object",
    "required": ["queries"],
    "additionalProperties": False,
    "properties": {
        "queries": {"type": "array", "items": {"type": "string", "pattern": "\\S"}, "minItems": 1},
        **{name: schema for name, schema in SEARCH_REQUEST["properties"].items() if name not in ("query", "highlight")},
    },
}


def declare_api_key(app: FastAPI, open_paths: set[str]) -> None:
    """Make the app's OpenAPI document say that every operation outside `open_paths` needs a bearer token
    (and /docs offer an Authorize button)."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            document = build()
            schemes = document.setdefault("components", {}).setdefault("securitySchemes", {})
            schemes["apiKey"] = {"type": "http", "scheme": "bearer", "description": "the server's API key"}
            for path, operations in document.get("paths", {}).items():
                for operation in operations.values():
                    if path not in open_paths:
                        operation["security"] = [{"apiKey": []}]
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi
