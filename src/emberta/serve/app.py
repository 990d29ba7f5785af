"""The HTTP API: OpenAI-compatible `POST /v1/embeddings`, `GET /v1/models`, `POST /v1/similarity`, and with an
index `POST /v1/search`, `GET /v1/documents/{id}` and `GET /v1/index/overview`; with a reports folder
`GET /v1/reports` and `GET /v1/reports/{name}`; `GET /healthz`, `GET /readyz`, `GET /metrics`; the page at `/`.

Thin: parse and check the request, call the library, answer. Errors use OpenAI's shape
({"error": {"message", "type", "param", "code"}}) and never carry a stack trace. The pieces: `routes/` (one
router per resource), `requests.py` (bodies), `dependencies.py` and `state.py` (what requests share),
`middleware.py` (auth, limits, metrics, the catch-all 500), `errors.py`.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from emberta.serve.batcher import MicroBatcher
from emberta.serve.errors import ApiError, api_error_handler, http_error_handler, validation_error_handler
from emberta.serve.middleware import OPEN_PATHS, add_middleware
from emberta.serve.reports import ReportFolder
from emberta.serve.routes import ROUTERS
from emberta.serve.schema import declare_api_key
from emberta.serve.settings import ServeSettings
from emberta.serve.state import ServerState


def create_app(encoder, *, index=None, settings: ServeSettings | None = None,
               reports: ReportFolder | str | Path | None = None, classifier=None, tagger=None) -> FastAPI:  # fmt: skip
    """The FastAPI app serving `encoder` (and `index`, an open emberta Index, for the search endpoints and the
    index overview; `reports`, a folder of HTML reports, for the page to list and open: InputError when it is
    not a folder; `classifier`, an emberta.classify.Classifier, for /v1/classify; `tagger`, an
    emberta.classify.tagging.Tagger, for /v1/tag)."""
    if reports is not None and not isinstance(reports, ReportFolder):
        reports = ReportFolder(reports)
    state = ServerState(encoder, index, settings or ServeSettings(), reports, classifier=classifier, tagger=tagger)
    app = FastAPI(title="emberta", version=_version(), docs_url="/docs", redoc_url=None, lifespan=lifespan)
    app.state.server = state
    for router in ROUTERS:
        app.include_router(router)
    app.add_exception_handler(ApiError, api_error_handler)
    app.add_exception_handler(HTTPException, http_error_handler)  # 404 and 405 in OpenAI's shape too
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    if state.settings.api_key:
        declare_api_key(app, OPEN_PATHS)
    add_middleware(app, state.settings, state.metrics)
    return app


@asynccontextmanager
async def lifespan(app: FastAPI):
    """Start the micro-batcher, encode a warm-up text (then /readyz says ready), and stop it at shutdown."""
    state: ServerState = app.state.server
    state.batcher = MicroBatcher(state.encoder, max_batch_tokens=state.settings.max_batch_tokens,
                                 max_queue_texts=state.settings.max_queue_texts)  # fmt: skip
    await state.batcher.embed(["warm up"])
    state.ready = True
    try:
        yield
    finally:
        state.batcher.close()


def _version() -> str:
    from emberta.version import __version__

    return __version__
