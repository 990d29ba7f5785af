"""Errors in OpenAI's shape: {"error": {"message", "type", "param", "code"}}, never with a stack trace."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse


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
