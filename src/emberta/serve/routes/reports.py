"""HTML reports from the folder `emberta serve --reports DIR` names: `GET /v1/reports` lists them and
`GET /v1/reports/{name}` serves one, read-only, by a name the listing gave (serve/reports.py refuses the rest)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from emberta.serve.dependencies import State
from emberta.serve.errors import ApiError
from emberta.serve.reports import REPORT_POLICY, ReportFolder
from emberta.serve.schema import ReportList, errors

router = APIRouter()
HTML_REPORT = {"content": {"text/html": {"schema": {"type": "string"}}}, "description": "the report, as written"}


def _folder(state) -> ReportFolder:
    if state.reports is None:
        raise ApiError(404, "no reports folder is served; start the server with --reports DIR", code="no_reports")
    return state.reports


@router.get("/v1/reports", responses={200: {"model": ReportList}, **errors(404)})
def reports(state: State):  # plain def: FastAPI runs its file reads in its threadpool, off the event loop
    """The HTML reports of the served folder (*.html), newest first: name, title, size and modification time."""
    return {"object": "list", "data": _folder(state).listing()}


@router.get("/v1/reports/{name}", response_class=HTMLResponse,
            responses={200: HTML_REPORT, **errors(404, text_route=True)})  # fmt: skip
def report(name: str, state: State):
    """One report of the served folder, by the name the listing gives; sandboxed (its own inline scripts only,
    no requests out) when opened directly."""
    content = _folder(state).read(name)
    if content is None:
        raise ApiError(404, f"no report named {name!r} in the reports folder; GET /v1/reports lists them",
                       param="name", code="not_found")  # fmt: skip
    headers = {"Content-Security-Policy": REPORT_POLICY, "X-Content-Type-Options": "nosniff"}
    return HTMLResponse(content, headers=headers)
