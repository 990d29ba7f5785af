"""FastAPI dependencies: the server's shared state, the loaded index, the JSON body. Route handlers declare
them as parameters (`state: State`), so no handler closes over the app."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from emberta.serve.errors import ApiError
from emberta.serve.requests import read_json
from emberta.serve.state import ServerState


def get_state(request: Request) -> ServerState:
    """The state `create_app` stored on the app."""
    return request.app.state.server


State = Annotated[ServerState, Depends(get_state)]


def require_index(state: State):
    """The loaded index; 404 when the server runs without one."""
    if state.index is None:
        raise ApiError(404, "no index is loaded; start the server with --index DIR", code="no_index")
    return state.index


async def json_body(request: Request, state: State) -> dict:
    """The request's JSON object, within the body-size limit."""
    return await read_json(request, state.settings.max_body_bytes)


LoadedIndex = Annotated[Any, Depends(require_index)]
JsonBody = Annotated[dict, Depends(json_body)]
