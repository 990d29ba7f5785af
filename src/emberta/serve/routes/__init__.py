"""One APIRouter per resource; `create_app` includes them all."""

from emberta.serve.routes import classify, embeddings, operations, overview, reports, search, similarity, tag

ROUTERS = (
    embeddings.router,
    similarity.router,
    search.router,
    overview.router,
    reports.router,
    operations.router,
    classify.router,
    tag.router,
)

__all__ = ["ROUTERS"]
