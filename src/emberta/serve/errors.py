"""Errors in OpenAI's shape: {"error": {"message", "type", "param", "code"}}, never with a stack trace."""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException


class ApiError(Exception):
    """A request the server refuses: HTTP `status` and the fields of OpenAI's error body."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 kind: str = "invalid_request_error"):  # fmt: skip
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind


def error_response(status: int, message: str, *, param=None, code=None, kind="invalid_request_error", headers=None):
    """A JSON error response in OpenAI's shape."""
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


async def api_error_handler(request: Request, exc: ApiError) -> JSONResponse:
    """The exception handler for ApiError; a 503 tells the client when to retry."""
    headers = {"Retry-After": "1"} if exc.status == 503 else None
    return error_response(exc.status, exc.message, param=exc.param, code=exc.code, kind=exc.kind, headers=headers)


async def http_error_handler(request: Request, exc: HTTPException) -> JSONResponse:
    """Starlette's own refusals (no such path, a method the path does not take) in OpenAI's shape, not
    {"detail": ...}; the Allow header of a 405 is kept."""
    if exc.status_code == 404:
        message = f"no endpoint at {request.url.path!r}; the endpoints are listed at /docs"
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        message = f"{request.method} is not allowed on {request.url.path!r}; use {allowed or 'another method'}"
    else:
        message = str(exc.detail)
    return error_response(exc.status_code, message, code="not_found" if exc.status_code == 404 else None,
                          headers=exc.headers)  # fmt: skip


async def validation_error_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's own parameter checks in OpenAI's shape, naming the first parameter at fault."""
    first = exc.errors()[0] if exc.errors() else {}
    param = ".".join(str(part) for part in first.get("loc", ())[1:]) or None
    return error_response(422, f"'{param}': {first.get('msg', 'invalid value')}", param=param)
