"""Operations and the web page: `GET /healthz`, `GET /readyz`, `GET /metrics` (Prometheus) and `GET /`."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse

from emberta.serve.dependencies import State
from emberta.serve.schema import Health, Readiness, errors

PAGE = Path(__file__).resolve().parent.parent / "page.html"

router = APIRouter()


# the page is self-contained: its inline script and styles, calls to this server, reports shown in a sandboxed
# frame (which inherits this policy: its inline scripts run, nothing it loads leaves the machine)
PAGE_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src data:; connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


@router.get("/", include_in_schema=False)
async def page():
    """The web page: the index's overview, search with a filter builder and highlighted results, the reports
    folder, and a two-text similarity widget (plain HTML and JS, nothing loaded from elsewhere)."""
    headers = {"Content-Security-Policy": PAGE_POLICY, "X-Content-Type-Options": "nosniff"}
    return HTMLResponse(PAGE.read_text(encoding="utf-8"), headers=headers)


# no docstrings below: FastAPI would publish them in the OpenAPI schema, which stays as it was
@router.get("/healthz", responses={200: {"model": Health}, **errors(guarded=False)})
async def healthz():
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={
        200: {"model": Readiness},
        503: {"model": Readiness, "description": "the model is not loaded yet"},
        **errors(guarded=False),
    },
)
async def readyz(state: State):
    # ready once the model has encoded a warm-up text; 503 before
    if not state.ready:
        return JSONResponse({"status": "starting"}, status_code=503)
    return {
        "status": "ready",
        "model": state.encoder.name,
        "index": None if state.index is None else str(state.index.path),
    }


@router.get("/metrics", response_class=PlainTextResponse, responses=errors(text_route=True))
async def prometheus(state: State):
    depth = state.batcher.queue_depth if state.batcher else 0
    return PlainTextResponse(state.metrics.render(depth), media_type="text/plain; version=0.0.4")
