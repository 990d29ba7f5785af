"""One APIRouter per resource; `create_app` includes them all."""

from emberta.serve.routes import embeddings, operations, search, similarity

ROUTERS = (embeddings.router, similarity.router, search.router, operations.router)

__all__ = ["ROUTERS"]
