"""What every request of one server shares, kept on `app.state.server` and reached through dependencies."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from emberta.serve.batcher import MicroBatcher, Overloaded
from emberta.serve.errors import ApiError
from emberta.serve.metrics import Metrics
from emberta.serve.reports import ReportFolder
from emberta.serve.settings import ServeSettings


@dataclass(eq=False)
class ServerState:
    """The encoder, the optional index and reports folder, and their guards; `batcher` and `ready` are set by
    the app's lifespan."""

    encoder: Any
    index: Any = None
    settings: ServeSettings = field(default_factory=ServeSettings)
    reports: ReportFolder | None = None  # `--reports DIR`: HTML reports the page lists and opens
    classifier: Any = None  # `--classifier DIR`: an emberta.classify.Classifier for /v1/classify
    tagger: Any = None  # `--tagger DIR`: an emberta.classify.tagging.Tagger for /v1/tag
    metrics: Metrics = field(default_factory=Metrics)
    index_lock: threading.Lock = field(default_factory=threading.Lock)  # one SQLite connection: searches take turns
    batcher: MicroBatcher | None = None
    ready: bool = False

    async def embed(self, texts: list[str]) -> tuple[np.ndarray, int]:
        """(vectors, token count) of `texts` through the micro-batcher; 503 when its queue is full."""
        try:
            vectors, tokens = await self.batcher.embed(texts)
        except Overloaded as exc:
            raise ApiError(503, f"server busy ({exc}); retry shortly", kind="server_error", code="overloaded") from None
        self.metrics.batches(self.batcher.drain_batch_sizes())
        return vectors, tokens
