"""The HTTP API: OpenAI-compatible `POST /v1/embeddings`, `GET /v1/models`, `POST /v1/similarity`, and with an
index `POST /v1/search` and `GET /v1/documents/{id}`; `GET /healthz`, `GET /readyz`, `GET /metrics`.

Thin: parse and check the request, call the library, answer. Errors use OpenAI's shape
({"error": {"message", "type", "param", "code"}}) and never carry a stack trace.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from emberta.errors import EmbertaError
from emberta.serve.batcher import MicroBatcher, Overloaded
from emberta.serve.metrics import Metrics

logger = logging.getLogger("emberta.serve")

EMBEDDING_FIELDS = {"input", "model", "encoding_format", "dimensions", "user"}
OPEN_PATHS = {"/", "/healthz", "/readyz"}  # the page itself holds no data; its API calls send the key
PAGE = Path(__file__).with_name("page.html")


@dataclass(frozen=True)
class ServeSettings:
    """Limits and switches of one server."""

    api_key: str | None = None
    max_inputs: int = 2048
    max_input_chars: int = 32_768
    max_body_bytes: int = 16 * 1024 * 1024
    max_batch_tokens: int = 16_384
    max_queue_texts: int = 8192
    cors_origins: tuple[str, ...] = field(default_factory=tuple)


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 kind: str = "invalid_request_error"):  # fmt: skip
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind


def error_response(status: int, message: str, *, param=None, code=None, kind="invalid_request_error", headers=None):
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def create_app(encoder, *, index=None, settings: ServeSettings | None = None) -> FastAPI:
    """The FastAPI app serving `encoder` (and `index`, an open emberta Index, for the search endpoints)."""
    settings = settings or ServeSettings()
    metrics = Metrics()
    state = {"ready": False}
    index_lock = threading.Lock()  # one SQLite connection: searches take turns (each is milliseconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.batcher = MicroBatcher(
            encoder, max_batch_tokens=settings.max_batch_tokens, max_queue_texts=settings.max_queue_texts
        )
        await app.state.batcher.embed(["warm up"])
        state["ready"] = True
        try:
            yield
        finally:
            app.state.batcher.close()

    app = FastAPI(title="emberta", version=_version(), docs_url="/docs", redoc_url=None, lifespan=lifespan)
    app.state.batcher = None

    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["*"],
                           allow_headers=["*"])  # fmt: skip

    @app.middleware("http")
    async def guard(request: Request, call_next):
        start = time.perf_counter()
        response = await _guarded(request, call_next)
        route = request.scope.get("route")
        metrics.request(getattr(route, "path", "other"), response.status_code, time.perf_counter() - start)
        return response

    async def _guarded(request: Request, call_next):
        if settings.api_key and request.url.path not in OPEN_PATHS:
            supplied = request.headers.get("authorization", "")
            scheme, _, token = supplied.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), settings.api_key.encode()):
                message = "missing API key: send 'Authorization: Bearer KEY'" if not supplied else "incorrect API key"
                return error_response(401, message, code="invalid_api_key")
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > settings.max_body_bytes:
            return error_response(413, f"request body of {length} bytes is over the limit of "
                                       f"{settings.max_body_bytes} bytes", code="body_too_large")  # fmt: skip
        try:
            return await call_next(request)
        except Exception:  # no stack traces in responses; the log has it
            logger.exception("%s %s failed", request.method, request.url.path)
            return error_response(500, "internal server error", kind="server_error")

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        headers = {"Retry-After": "1"} if exc.status == 503 else None
        return error_response(exc.status, exc.message, param=exc.param, code=exc.code, kind=exc.kind, headers=headers)

    async def read_json(request: Request) -> dict:
        body = await request.body()
        if len(body) > settings.max_body_bytes:
            raise ApiError(413, f"request body is over the limit of {settings.max_body_bytes} bytes")
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, f"could not parse the JSON body of the request ({exc})") from None
        if not isinstance(payload, dict):
            raise ApiError(422, "the request body must be a JSON object")
        return payload

    async def embed(texts: list[str]) -> tuple[np.ndarray, int]:
        try:
            vectors, tokens = await app.state.batcher.embed(texts)
        except Overloaded as exc:
            raise ApiError(503, f"server busy ({exc}); retry shortly", kind="server_error", code="overloaded") from None
        metrics.batches(_drain(app.state.batcher.batch_sizes))
        return vectors, tokens

    def check_texts(value, param: str) -> list[str]:
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

    # ---- OpenAI-compatible ------------------------------------------------------------------------------
    @app.post("/v1/embeddings")
    async def embeddings(request: Request):
        """Embed `input` (a string or a list of strings) the way OpenAI's endpoint does."""
        body = await read_json(request)
        unknown = sorted(set(body) - EMBEDDING_FIELDS)
        if unknown:
            raise ApiError(400, f"Unrecognized request argument supplied: {unknown[0]}", param=unknown[0])
        if "input" not in body:
            raise ApiError(422, "'input' is a required property", param="input")
        texts = check_texts(body["input"], "input")
        model = body.get("model")
        if model is not None and model not in _model_names(encoder):
            raise ApiError(404, f"the model {model!r} does not exist here; this server serves {encoder.name!r}",
                           param="model", code="model_not_found")  # fmt: skip
        encoding = body.get("encoding_format", "float")
        if encoding not in ("float", "base64"):
            raise ApiError(422, "'encoding_format' must be 'float' or 'base64'", param="encoding_format")
        dimensions = body.get("dimensions")
        if dimensions is not None and (
            not isinstance(dimensions, int) or isinstance(dimensions, bool) or not 1 <= dimensions <= encoder.dim
        ):
            raise ApiError(422, f"'dimensions' must be a whole number from 1 to {encoder.dim}", param="dimensions")
        vectors, tokens = await embed(texts)
        if dimensions is not None and dimensions < vectors.shape[1]:
            vectors = vectors[:, :dimensions]
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.where(norms > 0, norms, 1)
        vectors = np.ascontiguousarray(vectors, dtype="<f4")
        if encoding == "base64":
            items = [base64.b64encode(row.tobytes()).decode("ascii") for row in vectors]
        else:
            items = vectors.tolist()
        payload = {
            "object": "list",
            "data": [{"object": "embedding", "index": i, "embedding": item} for i, item in enumerate(items)],
            "model": encoder.name,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return Response(json.dumps(payload), media_type="application/json")

    @app.get("/v1/models")
    async def models():
        """The one model this server serves."""
        return {"object": "list", "data": [{"id": encoder.name, "object": "model", "created": 0,
                                            "owned_by": "emberta", "dimensions": encoder.dim}]}  # fmt: skip

    @app.post("/v1/similarity")
    async def similarity(request: Request):
        """Cosine similarity of two texts: {"a": "...", "b": "..."} -> {"score": float}."""
        body = await read_json(request)
        a, b = (check_texts(body.get(key), key) for key in ("a", "b"))
        if len(a) != 1 or len(b) != 1:
            raise ApiError(422, "'a' and 'b' are one text each")
        vectors, _ = await embed([a[0], b[0]])
        score = float(encoder.similarity(vectors[:1], vectors[1:])[0, 0])
        return {"object": "similarity", "score": score, "model": encoder.name}

    # ---- search -----------------------------------------------------------------------------------------
    def require_index():
        if index is None:
            raise ApiError(404, "no index is loaded; start the server with --index DIR", code="no_index")
        return index

    @app.post("/v1/search")
    async def search(request: Request):
        """Search the loaded index: {"query", "k": 10, "filter": null, "mode": "dense"|"bm25"|"hybrid"}."""
        idx = require_index()
        body = await read_json(request)
        unknown = sorted(set(body) - {"query", "k", "filter", "mode", "weights"})
        if unknown:
            raise ApiError(400, f"Unrecognized request argument supplied: {unknown[0]}", param=unknown[0])
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            raise ApiError(422, "'query' must be a non-empty string", param="query")
        k = body.get("k", 10)
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 1000:
            raise ApiError(422, "'k' must be a whole number from 1 to 1000", param="k")
        flt, mode = body.get("filter"), body.get("mode", "dense")
        if flt is not None and not isinstance(flt, str):
            raise ApiError(422, "'filter' must be a string such as \"lang = 'en'\"", param="filter")
        weights = body.get("weights", [1.0, 1.0])
        if not (isinstance(weights, list) and len(weights) == 2 and all(isinstance(w, (int, float)) for w in weights)):
            raise ApiError(422, "'weights' must be two numbers [dense, bm25]", param="weights")

        def run():
            with index_lock:
                return idx.search(query, k, filter=flt, mode=mode, weights=tuple(weights))

        try:
            hits = await asyncio.get_running_loop().run_in_executor(None, run)
        except EmbertaError as exc:
            raise ApiError(400, str(exc), param="filter" if "filter" in str(exc) else "mode") from None
        return {"object": "list", "data": [{"id": h.id, "score": h.score, "text": h.text, "metadata": h.metadata}
                                           for h in hits]}  # fmt: skip

    @app.get("/v1/documents/{doc_id}")
    async def document(doc_id: str):
        """One document of the loaded index by id."""
        idx = require_index()
        with index_lock:
            hit = idx.get(doc_id)
        if hit is None:
            raise ApiError(404, f"no document with id {doc_id!r}", param="doc_id", code="not_found")
        return {"id": hit.id, "text": hit.text, "metadata": hit.metadata}

    # ---- the web page -------------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    async def page():
        """A search box over the index and a two-text similarity widget (plain HTML and JS)."""
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    # ---- operations ---------------------------------------------------------------------------------------
    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz():
        if not state["ready"]:
            return JSONResponse({"status": "starting"}, status_code=503)
        return {"status": "ready", "model": encoder.name, "index": None if index is None else str(index.path)}

    @app.get("/metrics")
    async def prometheus():
        batcher = app.state.batcher
        return PlainTextResponse(metrics.render(batcher.queue_depth if batcher else 0),
                                 media_type="text/plain; version=0.0.4")  # fmt: skip

    return app


def _drain(sizes: list[int]) -> list[int]:
    taken = sizes[:]
    del sizes[: len(taken)]
    return taken


def _model_names(encoder) -> set[str]:
    name = encoder.name
    return {name, name.split("/")[-1], "default"}


def _version() -> str:
    from emberta.version import __version__

    return __version__
