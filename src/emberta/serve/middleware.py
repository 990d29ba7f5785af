"""What runs around every request: the API key, the body-size limit on Content-Length, request metrics, and
the catch-all that turns an unexpected exception into a bare 500; plus CORS when origins are configured."""

from __future__ import annotations

import hmac
import logging
import time

from fastapi import FastAPI, Request
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response

from emberta.serve.errors import error_response
from emberta.serve.metrics import Metrics
from emberta.serve.settings import ServeSettings

logger = logging.getLogger("emberta.serve")

# the pages hold no data (their API calls send the key), nor does the API's description
OPEN_PATHS = {"/", "/healthz", "/readyz", "/docs", "/docs/oauth2-redirect", "/openapi.json"}


def add_middleware(app: FastAPI, settings: ServeSettings, metrics: Metrics) -> None:
    """Install the guard and, outside it, CORS (when `settings.cors_origins`): a browser's preflight carries no
    API key, so CORS answers it before the guard, and the guard's refusals carry CORS headers the page can read."""
    app.add_middleware(GuardMiddleware, settings=settings, metrics=metrics)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        # added last: runs first
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["*"],
                           allow_headers=["*"])  # fmt: skip


class GuardMiddleware(BaseHTTPMiddleware):
    """Auth, the Content-Length limit and the catch-all 500, with every answer counted in `metrics`."""

    def __init__(self, app, *, settings: ServeSettings, metrics: Metrics):
        super().__init__(app)
        self.settings, self.metrics = settings, metrics

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        start = time.perf_counter()
        response = await self.guarded(request, call_next)
        route = request.scope.get("route")  # set by the router; absent for paths no route matched
        self.metrics.request(getattr(route, "path_format", "other"), response.status_code, time.perf_counter() - start)
        return response

    async def guarded(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        refusal = auth_refusal(request, self.settings.api_key) or size_refusal(request, self.settings.max_body_bytes)
        if refusal is not None:
            return refusal
        try:
            return await call_next(request)
        except Exception:  # no stack traces in responses; the log has it
            logger.exception("%s %s failed", request.method, request.url.path)
            return error_response(500, "internal server error", kind="server_error")


def auth_refusal(request: Request, api_key: str | None) -> Response | None:
    """A 401 when `api_key` is set and the request does not carry it as a Bearer token (paths in OPEN_PATHS
    excepted); None to let the request through."""
    if not api_key or request.url.path in OPEN_PATHS:
        return None
    supplied = request.headers.get("authorization", "")
    scheme, _, token = supplied.partition(" ")
    # the header's bytes as sent (Starlette decodes headers as latin-1) against the key's UTF-8 bytes, in constant
    # time: a key outside ASCII matches as curl sends it
    if scheme.lower() == "bearer" and hmac.compare_digest(token.encode("latin-1"), api_key.encode("utf-8")):
        return None
    message = "missing API key: send 'Authorization: Bearer KEY'" if not supplied else "incorrect API key"
    return error_response(401, message, code="invalid_api_key")


def size_refusal(request: Request, max_body_bytes: int) -> Response | None:
    """A 413 when the declared Content-Length is over `max_body_bytes`, before the body is read."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > max_body_bytes:
        return error_response(413, f"request body of {length} bytes is over the limit of {max_body_bytes} bytes",
                              code="body_too_large")  # fmt: skip
    return None
