"""Request bodies: reading the JSON body within the size limit, and one typed request per endpoint that takes a
body, checked field by field. Every refusal is an ApiError whose status, message and `param` clients rely on."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

from fastapi import Request

from emberta.errors import OptionError
from emberta.index.search import check_mode
from emberta.io.jsontext import has_lone_surrogate, json_strings
from emberta.serve.errors import ApiError
from emberta.serve.settings import ServeSettings

EMBEDDING_FIELDS = {"input", "model", "encoding_format", "dimensions", "user"}
SEARCH_FIELDS = {"query", "k", "filter", "mode", "weights", "highlight"}
BATCH_SEARCH_FIELDS = (SEARCH_FIELDS - {"query", "highlight"}) | {"queries"}


async def read_json(request: Request, max_body_bytes: int) -> dict:
    """The request's JSON object: 415 when it is declared as something other than JSON, 413 over
    `max_body_bytes`, 400 when it is not valid JSON (invalid UTF-8, lone surrogates, NaN, nesting too deep for the
    parser), 422 when not an object."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise ApiError(415, f"the body is declared as {content_type!r}; send JSON with 'Content-Type: "
                            "application/json' (curl: -H 'Content-Type: application/json')",
                       code="unsupported_media_type")  # fmt: skip
    payload = parse_json(await read_body(request, max_body_bytes))
    if not isinstance(payload, dict):
        raise ApiError(422, "the request body must be a JSON object")
    return payload


async def read_body(request: Request, max_body_bytes: int) -> bytes:
    """The body, read chunk by chunk and given up on (413) as soon as it passes `max_body_bytes`: Content-Length
    may be absent (chunked), so the middleware's check alone is not enough, and nothing is buffered past it."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_body_bytes:
            raise ApiError(413, f"request body is over the limit of {max_body_bytes} bytes; send fewer or shorter "
                                "texts per request", code="body_too_large")  # fmt: skip
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body: bytes):
    """`body` parsed as strict JSON (RFC 8259); ApiError 400 saying what is wrong with it."""
    try:
        payload = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise ApiError(400, "the JSON body nests arrays or objects too deeply to parse; flatten it") from None
    except ValueError as exc:  # invalid UTF-8 or JSON, NaN, 1e999, integers of over 4300 digits
        raise ApiError(400, f"could not parse the JSON body of the request ({exc})") from None
    if _LONE_SURROGATE.search(body) and _holds_lone_surrogate(payload):
        raise ApiError(400, "the JSON body holds a lone surrogate escape (such as \\ud800), which is not "
                            "Unicode text; send each character whole (UTF-8, or a surrogate pair)")  # fmt: skip
    return payload


_LONE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")  # where one may be: a \uD800-\uDFFF escape


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number; send finite numbers")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is beyond the range of a 64-bit float")
    return value


def _holds_lone_surrogate(payload) -> bool:
    return any(has_lone_surrogate(text) for text in json_strings(payload))


def check_texts(value, param: str, settings: ServeSettings) -> list[str]:
    """`value` (a string or a list of strings) as a list of non-empty texts within the settings' limits."""
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise ApiError(422, f"'{param}' must be a string or a list of strings (token arrays are not "
                            "supported)", param=param)  # fmt: skip
    if not texts:
        raise ApiError(422, f"'{param}' is an empty list; send at least one text", param=param)
    if len(texts) > settings.max_inputs:
        raise ApiError(413, f"{len(texts)} inputs; at most {settings.max_inputs} per request", param=param)
    for i, text in enumerate(texts):
        if not text:
            raise ApiError(422, f"'{param}[{i}]' is an empty string", param=param)
        if len(text) > settings.max_input_chars:
            raise ApiError(413, f"'{param}[{i}]' has {len(text)} characters; at most "
                                f"{settings.max_input_chars}", param=param)  # fmt: skip
    return texts


@dataclass(frozen=True)
class EmbeddingsBody:
    """OpenAI's embeddings request: `input`, `model`, `encoding_format`, `dimensions` (`user` is ignored)."""

    texts: list[str]
    encoding_format: str = "float"
    dimensions: int | None = None

    @classmethod
    def parse(cls, body: dict, settings: ServeSettings, encoder) -> EmbeddingsBody:
        """Check `body` against what OpenAI accepts and what `encoder` serves."""
        _refuse_unknown(body, EMBEDDING_FIELDS)
        if "input" not in body:
            raise ApiError(422, "'input' is a required property", param="input")
        texts = check_texts(body["input"], "input", settings)
        model = body.get("model")
        if model is not None and not isinstance(model, str):
            raise ApiError(422, f"'model' must be a string such as {encoder.name!r}, not {_json_type(model)}",
                           param="model")  # fmt: skip
        if model is not None and model not in model_names(encoder.name):
            raise ApiError(404, f"the model {model!r} does not exist here; this server serves {encoder.name!r}",
                           param="model", code="model_not_found")  # fmt: skip
        encoding = body.get("encoding_format", "float")
        if encoding not in ("float", "base64"):
            raise ApiError(422, "'encoding_format' must be 'float' or 'base64'", param="encoding_format")
        dimensions = body.get("dimensions")
        if dimensions is not None and not _whole_number(dimensions, 1, encoder.dim):
            raise ApiError(422, f"'dimensions' must be a whole number from 1 to {encoder.dim}", param="dimensions")
        return cls(texts, encoding, dimensions)


@dataclass(frozen=True)
class SimilarityBody:
    """Two texts to compare: {"a": "...", "b": "..."}."""

    a: str
    b: str

    @classmethod
    def parse(cls, body: dict, settings: ServeSettings) -> SimilarityBody:
        """Check that `a` and `b` are one text each."""
        a, b = (check_texts(body.get(key), key, settings) for key in ("a", "b"))
        if len(a) != 1 or len(b) != 1:
            raise ApiError(422, "'a' and 'b' are one text each")
        return cls(a[0], b[0])


@dataclass(frozen=True)
class SearchBody:
    """A search of the loaded index: {"query", "k": 10, "filter": null, "mode": "dense", "weights": [1, 1],
    "highlight": false}."""

    query: str
    k: int = 10
    filter: str | None = None
    mode: str = "dense"
    weights: tuple[float, float] = (1.0, 1.0)
    highlight: bool = False

    @classmethod
    def parse(cls, body: dict) -> SearchBody:
        """Check each field; the filter's own grammar is checked by the index when it runs."""
        _refuse_unknown(body, SEARCH_FIELDS)
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            raise ApiError(422, "'query' must be a non-empty string", param="query")
        highlight = body.get("highlight", False)
        if not isinstance(highlight, bool):
            raise ApiError(422, "'highlight' must be true or false", param="highlight")
        return cls(query, *_search_options(body), highlight=highlight)


@dataclass(frozen=True)
class BatchSearchBody:
    """Many searches of the loaded index in one request: {"queries": [...], "k", "filter", "mode", "weights"},
    the options shared by every query."""

    queries: list[str]
    k: int = 10
    filter: str | None = None
    mode: str = "dense"
    weights: tuple[float, float] = (1.0, 1.0)

    @classmethod
    def parse(cls, body: dict, settings: ServeSettings) -> BatchSearchBody:
        """Check each field: `queries` a list of up to max_inputs non-blank texts within the length limit."""
        _refuse_unknown(body, BATCH_SEARCH_FIELDS)
        queries = body.get("queries")
        if not isinstance(queries, list):
            raise ApiError(422, "'queries' must be a list of query texts", param="queries")
        queries = check_texts(queries, "queries", settings)
        for i, query in enumerate(queries):
            if not query.strip():
                raise ApiError(422, f"'queries[{i}]' is blank; send words to search for", param="queries")
        return cls(queries, *_search_options(body))


def _search_options(body: dict) -> tuple[int, str | None, str, tuple[float, float]]:
    """(k, filter, mode, weights) of a search body, each checked."""
    k = body.get("k", 10)
    if not _whole_number(k, 1, 1000):
        raise ApiError(422, "'k' must be a whole number from 1 to 1000", param="k")
    flt = body.get("filter")
    if flt is not None and not isinstance(flt, str):
        raise ApiError(422, "'filter' must be a string such as \"lang = 'en'\"", param="filter")
    weights = body.get("weights", [1.0, 1.0])
    if not (isinstance(weights, list) and len(weights) == 2 and all(_is_number(w) for w in weights)):
        raise ApiError(422, "'weights' must be two numbers [dense, bm25]", param="weights")
    mode = body.get("mode", "dense")
    try:
        check_mode(mode)
    except OptionError as exc:  # 400, as when the index refused it
        raise ApiError(400, str(exc), param="mode") from None
    return k, flt, mode, (weights[0], weights[1])


def model_names(name: str) -> set[str]:
    """The names a request may give for the model `name`: itself, its last path part, or "default"."""
    return {name, name.split("/")[-1], "default"}


def _refuse_unknown(body: dict, known: set[str]) -> None:
    unknown = sorted(set(body) - known)
    if unknown:  # OpenAI's own wording, which its clients recognise
        raise ApiError(400, f"Unrecognized request argument supplied: {unknown[0]}", param=unknown[0])


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)  # finite: parse_json refuses the rest


def _json_type(value) -> str:
    names = {dict: "an object", list: "an array", bool: "a boolean", int: "a number", float: "a number"}
    return names.get(type(value), type(value).__name__)


def _whole_number(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
