"""HTTP serving: an OpenAI-compatible embeddings API and a search API over an index (FastAPI + uvicorn)."""

from emberta.serve.app import create_app
from emberta.serve.reports import ReportFolder
from emberta.serve.settings import ServeSettings, check_bind, is_loopback

__all__ = ["ReportFolder", "ServeSettings", "check_bind", "create_app", "is_loopback"]
