"""Dynamic micro-batching: texts of concurrent requests wait in one bounded queue and a worker thread encodes
them together, up to a token budget per model call. A full queue refuses new work (the caller answers 503)
instead of growing without limit. Only the worker thread touches the encoder (fast tokenizers must not be
used from two threads at once), so it also counts each request's tokens."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger("emberta.serve")


class Overloaded(Exception):
    """The queue holds as many texts as it may; the client should retry later."""


@dataclass
class _Job:
    texts: list[str]
    tokens: int  # an estimate (characters / 4) for the batch budget
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop


def estimate_tokens(texts: list[str]) -> int:
    """Rough token count for batching decisions (about 4 characters per token, plus special tokens)."""
    return sum(len(t) // 4 + 2 for t in texts)


class MicroBatcher:
    """Encode requests together. `embed(texts)` is awaited by request handlers and gives (vectors, tokens);
    one worker thread runs the encoder on batches of at most `max_batch_tokens` (estimated) tokens; a single
    larger request runs alone."""

    def __init__(self, encoder, *, max_batch_tokens: int = 16384, max_queue_texts: int = 4096, batch_size: int = 64):
        self.encoder = encoder
        self.max_batch_tokens, self.max_queue_texts, self.batch_size = max_batch_tokens, max_queue_texts, batch_size
        self._jobs: deque[_Job] = deque()
        self._queued_texts = 0
        self._cond = threading.Condition()
        self._closed = False
        self.batch_sizes: list[int] = []  # texts per model call, for /metrics (see drain_batch_sizes)
        self._thread = threading.Thread(target=self._run, name="emberta-batcher", daemon=True)
        self._thread.start()

    @property
    def queue_depth(self) -> int:
        """Texts waiting to be encoded."""
        return self._queued_texts

    async def embed(self, texts: list[str]) -> tuple[np.ndarray, int]:
        """(the encoder's float32 (n, dim) vectors for `texts`, their token count); Overloaded when the queue is
        full."""
        loop = asyncio.get_running_loop()
        job = _Job(list(texts), estimate_tokens(texts), loop.create_future(), loop)
        with self._cond:
            if self._queued_texts + len(texts) > self.max_queue_texts:
                raise Overloaded(f"{self._queued_texts} texts are waiting to be encoded")
            self._jobs.append(job)
            self._queued_texts += len(texts)
            self._cond.notify()
        return await job.future

    def drain_batch_sizes(self) -> list[int]:
        """The batch sizes recorded since the last call, removed from `batch_sizes`."""
        taken = self.batch_sizes[:]
        del self.batch_sizes[: len(taken)]  # the worker may append meanwhile; those stay for the next call
        return taken

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=5)

    def _take_batch(self) -> list[_Job]:
        with self._cond:
            while not self._jobs and not self._closed:
                self._cond.wait()
            batch, tokens = [], 0
            while self._jobs and (not batch or tokens + self._jobs[0].tokens <= self.max_batch_tokens):
                job = self._jobs.popleft()
                batch.append(job)
                tokens += job.tokens
            self._queued_texts -= sum(len(job.texts) for job in batch)
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            if not batch:
                return
            texts = [text for job in batch for text in job.texts]
            try:
                lengths = self.encoder.token_lengths(texts)
                vectors = self.encoder.encode(texts, batch_size=self.batch_size, show_progress=False)
                self.batch_sizes.append(len(texts))
            except Exception as exc:  # handed to each waiting request, which answers 500 without a trace
                logger.exception("encoding a batch of %d texts failed", len(texts))
                for job in batch:
                    job.loop.call_soon_threadsafe(_fail, job.future, exc)
                continue
            start = 0
            for job in batch:
                end = start + len(job.texts)
                result = (vectors[start:end], int(sum(lengths[start:end])))
                start = end
                job.loop.call_soon_threadsafe(_resolve, job.future, result)


def _resolve(future: asyncio.Future, value) -> None:
    if not future.done():
        future.set_result(value)


def _fail(future: asyncio.Future, exc: Exception) -> None:
    if not future.done():
        future.set_exception(exc)
