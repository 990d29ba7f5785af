"""`emberta eval --engine ray`: the texts the embedding cache lacks are encoded by actors on a Ray cluster,
each holding the model loaded once for the whole evaluation; the cache, the prompts and the scoring stay in
this process, so the scores are those of a local run.

    with RayEncoder.start(encoder, "default", options, workers=2) as remote:
        evaluate(encoder, ["STSBenchmark"], engine=remote)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from emberta.encoders.base import Encoder
from emberta.errors import ModelError
from emberta.scale.runtime import ray_session

TEXTS_PER_CALL = 256


class TextEncoderActor:
    """A Ray actor holding one encoder: encode(texts, prompt, batch_size) -> float32 (n, dim)."""

    def __init__(self, model: str, options: dict, fingerprint: str):
        from emberta.encoders import load_encoder

        self.encoder = load_encoder(model, **options)
        if self.encoder.fingerprint != fingerprint:
            raise ModelError(
                f"model {model!r} on this Ray worker has fingerprint {self.encoder.fingerprint[:12]}, the "
                f"driver's {fingerprint[:12]}: give every node the same model files and emberta version"
            )

    def encode(self, texts: list[str], prompt: str | None, batch_size: int) -> np.ndarray:
        return self.encoder.encode(texts, prompt=prompt, batch_size=batch_size, show_progress=False)


class RayEncoder:
    """Stands in for `encoder` where texts get encoded (EmbeddingStore.encode): the same fingerprint, dim,
    prompts and every other attribute, but `encode` sends the texts, in slices of TEXTS_PER_CALL, to a pool of
    Ray actors and returns their rows in order. Actors that die are restarted and their calls retried."""

    def __init__(self, encoder: Encoder, pool):
        self.encoder = encoder
        self._pool = pool

    @classmethod
    @contextmanager
    def start(cls, encoder: Encoder, model: str, options: dict, *, workers: int = 1, address: str | None = None,
              cpus_per_worker: float = 1) -> Iterator[RayEncoder]:  # fmt: skip
        """Connect to Ray (see runtime.ray_session), start `workers` actors loading load_encoder(model,
        **options), each with `cpus_per_worker` CPUs (and as many threads unless options say), and yield the
        stand-in for `encoder` (which must be that same model: the actors check its fingerprint)."""
        with ray_session(address) as ray:
            from ray.util import ActorPool

            options = {"threads": max(1, int(cpus_per_worker)), **options}
            remote = ray.remote(num_cpus=cpus_per_worker, max_restarts=-1, max_task_retries=-1)(TextEncoderActor)
            actors = [remote.remote(model, options, encoder.fingerprint) for _ in range(workers)]
            try:
                yield cls(encoder, ActorPool(actors))
            finally:
                for actor in actors:
                    ray.kill(actor)

    def __getattr__(self, name: str):
        return getattr(self.encoder, name)

    def encode(self, texts: list[str], *, prompt: str | None = None, prompt_name: str | None = None,
               batch_size: int = 32, show_progress: bool | None = None) -> np.ndarray:  # fmt: skip
        """float32 (len(texts), dim): encoder.encode's rows, computed on the cluster."""
        from emberta.scale.ray_encode import user_error

        prompt = self.encoder.resolve_prompt(prompt, prompt_name)
        if not texts:
            return np.zeros((0, self.encoder.dim), dtype=np.float32)
        slices = [texts[i : i + TEXTS_PER_CALL] for i in range(0, len(texts), TEXTS_PER_CALL)]
        try:
            parts = list(self._pool.map(lambda actor, part: actor.encode.remote(part, prompt, batch_size), slices))
        except Exception as exc:
            cause = user_error(exc)
            if cause is not None:
                raise cause from None
            raise
        return np.concatenate(parts).astype(np.float32, copy=False)
