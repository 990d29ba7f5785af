"""HTTP serving: an OpenAI-compatible embeddings API and a search API over an index (FastAPI + uvicorn)."""

from emberta.serve.app import ServeSettings, create_app

__all__ = ["ServeSettings", "create_app"]
