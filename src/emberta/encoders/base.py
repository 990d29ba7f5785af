"""The Encoder: texts in, a float32 (n, dim) matrix out. Backends supply the model; this class owns what is
the same for all of them: prompts, long-text handling, truncation, normalization and the fingerprint."""

from __future__ import annotations

import functools
import hashlib
import json
import sys
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from functools import cached_property

import numpy as np

from emberta.encoders.long_text import LongTextWarning, cut_to_budget, fit, split_windows
from emberta.encoders.model_folder import ModelFolder
from emberta.encoders.options import MASK_PLACEHOLDERS, PROMPT_POOLING_PREFIX, EncoderOptions
from emberta.errors import InputError, OptionError
from emberta.similarity import score_matrix, unit_rows

FINGERPRINT_FORMAT = 1


class Encoder(ABC):
    """A loaded text encoder. Build one with `emberta.load_encoder(spec, **options)`."""

    backend: str = ""

    def __init__(self, folder: ModelFolder, options: EncoderOptions):
        self.folder = folder
        self.options = options
        self.name = folder.name

    # ---- what a backend provides -------------------------------------------------------------------
    @property
    @abstractmethod
    def model_dim(self) -> int:
        """Width of the model's own output vectors, before truncate_dim."""

    @property
    @abstractmethod
    def max_length(self) -> int:
        """Tokens per input, special tokens included; longer inputs are truncated or chunked."""

    @property
    @abstractmethod
    def prompts(self) -> dict[str, str]:
        """The model's named prompts, e.g. {"query": "query: "}."""

    @property
    @abstractmethod
    def model_normalizes(self) -> bool:
        """Whether the backend's output is already L2-normalized."""

    @property
    @abstractmethod
    def mask_token(self) -> str | None:
        """The tokenizer's mask token, for prompt-template pooling."""

    @abstractmethod
    def token_lengths(self, texts: list[str]) -> list[int]:
        """Token count of each text, special tokens included, without truncation (the server counts usage
        with it)."""

    @abstractmethod
    def _token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span of each token of `text`, special tokens excluded."""

    @abstractmethod
    def _embed(self, texts: list[str], prompt: str | None, batch_size: int, show_progress: bool) -> np.ndarray:
        """Model vectors (len(texts), model_dim) for texts that fit max_length (longer ones are truncated)."""

    @abstractmethod
    def describe(self) -> dict:
        """Architecture, parameter count and settings, for `emberta info`."""

    # ---- public API ---------------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """Width of the vectors `encode` returns."""
        return self.options.truncate_dim or self.model_dim

    @property
    def normalize(self) -> bool:
        """Whether `encode` returns unit-length vectors."""
        return self.model_normalizes if self.options.normalize is None else self.options.normalize

    @cached_property
    def fingerprint(self) -> str:
        """sha256 hex of the model files' content and every option that changes vectors."""
        payload = {
            "format": FINGERPRINT_FORMAT,
            "backend": self.backend,
            "model": self.folder.identity(),
            "vector_options": self.vector_options(),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def vector_options(self) -> dict:
        """The resolved options that change vectors (threads and batch size do not)."""
        options = self.options
        return {
            "pooling": self.pooling,
            "layer": options.layer,
            "truncate_dim": options.truncate_dim,
            "normalize": self.normalize,
            "max_length": self.max_length,
            "prompt": self.resolve_prompt(None, None),
            "long_text": options.long_text,
            "chunk_overlap": options.chunk_overlap if options.long_text == "chunk" else None,
        }

    @property
    def pooling(self) -> str:
        """The pooling in effect (the option, else the model's own)."""
        return self.options.pooling or "mean"

    @property
    def default_prompt_name(self) -> str | None:
        """The model's own default prompt name (config_sentence_transformers.json), if any."""
        return None

    def resolve_prompt(self, prompt: str | None, prompt_name: str | None) -> str | None:
        """The literal prefix for one call: `prompt`, else the named prompt, else the encoder's default."""
        if prompt is not None and prompt_name is not None:
            raise OptionError("give either prompt (a literal prefix) or prompt_name (a named prompt), not both")
        if prompt is not None:
            return prompt
        name = prompt_name
        if name is None and self.options.prompt is not None:
            return self.options.prompt
        if name is None:
            name = self.options.prompt_name or self.default_prompt_name
        if name is None:
            return None
        if name not in self.prompts:
            known = ", ".join(sorted(self.prompts)) or "none"
            raise OptionError(f"model {self.name!r} has no prompt named {name!r} (its prompts: {known})")
        return self.prompts[name] or None

    def encode(
        self,
        texts: Iterable[str] | str,
        *,
        prompt: str | None = None,
        prompt_name: str | None = None,
        batch_size: int = 32,
        show_progress: bool | None = None,
    ) -> np.ndarray:
        """Embed texts. Returns float32 (n, dim), row i for texts[i]; a lone string counts as one text.

        prompt: a literal prefix for this call; prompt_name: one of `prompts`. Texts longer than max_length
        tokens are truncated with a LongTextWarning giving their count, or chunked when long_text="chunk".
        """
        texts = _as_text_list(texts)
        if batch_size < 1:
            raise OptionError(f"batch_size must be at least 1, got {batch_size}")
        if show_progress is None:
            show_progress = sys.stderr.isatty()
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        prompt = self.resolve_prompt(prompt, prompt_name)

        inputs, owners = self._fit_to_length(texts, prompt or "")
        vectors = self._embed(inputs, prompt, batch_size, show_progress)
        if owners is not None:
            vectors = _mean_by_owner(vectors, owners, len(texts))
        return self._finish(vectors)

    @property
    def similarity_fn_name(self) -> str:
        """The model's similarity function: "cosine" (the default), "dot", "euclidean" or "manhattan"."""
        return "cosine"

    def similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Similarity matrix (len(a), len(b)) under the model's similarity function (cosine unless the model
        folder says otherwise), as sentence-transformers' `similarity`; 1-D vectors count as one row."""
        a = np.atleast_2d(np.asarray(a, dtype=np.float32))
        b = np.atleast_2d(np.asarray(b, dtype=np.float32))
        if a.shape[1] != b.shape[1]:
            raise OptionError(f"cannot compare vectors of width {a.shape[1]} and {b.shape[1]}")
        return score_matrix(a, b, self.similarity_fn_name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} dim={self.dim} pooling={self.pooling!r}>"

    # ---- internals ----------------------------------------------------------------------------------
    @property
    def prompt_template(self) -> str | None:
        """The PromptBERT template when the pooling in effect is prompt:<template>, else None."""
        pooling = self.pooling
        return pooling[len(PROMPT_POOLING_PREFIX) :] if pooling.startswith(PROMPT_POOLING_PREFIX) else None

    def apply_template(self, text: str) -> str:
        """`text` put into the PromptBERT template when pooling is prompt:<template>, else `text` itself."""
        template = self.prompt_template
        if template is None:
            return text
        for placeholder in MASK_PLACEHOLDERS:
            template = template.replace(placeholder, self.mask_token)
        return template.replace("{text}", text)

    def _fit_to_length(self, texts: list[str], prompt: str) -> tuple[list[str], list[int] | None]:
        """Model inputs for `texts`: templated, and for texts over max_length either cut (warn mode, with a
        warning) or split into windows (chunk mode). Returns (inputs, owner text index per input or None)."""
        wrapped = [self.apply_template(t) for t in texts]
        limit = self.max_length

        def measure(pieces: list[str]) -> list[int]:
            return self.token_lengths([prompt + self.apply_template(p) for p in pieces]) if pieces else []

        overhead = measure([""])[0]
        # A token covers at least one byte of text (SentencePiece may add one word-start marker), so a text of
        # at most `limit - overhead - 1` UTF-8 bytes cannot be too long: only longer ones need tokenizing here.
        maybe_long = [i for i, t in enumerate(texts) if len(t.encode("utf-8")) + overhead + 1 > limit]
        lengths = dict(zip(maybe_long, measure([texts[i] for i in maybe_long]), strict=True))
        long_rows = [i for i in maybe_long if lengths[i] > limit]
        if not long_rows:
            return wrapped, None

        budget = limit - overhead
        if budget < 1:
            raise OptionError(
                f"the prompt and template take {overhead} of max_length={limit} tokens, leaving no room for text"
            )
        if self.options.long_text == "warn":
            warnings.warn(LongTextWarning(len(long_rows), len(texts), limit), stacklevel=3)
            if self.prompt_template is None:
                return wrapped, None  # the backend truncates, exactly as sentence-transformers does
            for i in long_rows:  # keep the mask token: cut the text, not the template
                offsets = self._token_offsets(texts[i])
                cut = functools.partial(_cut_one, texts[i], offsets)
                wrapped[i] = self.apply_template(fit(cut, measure, budget, limit)[0])
            return wrapped, None

        inputs: list[str] = []
        owners: list[int] = []
        long_set = set(long_rows)
        for i, text in enumerate(texts):
            if i not in long_set:
                pieces = [wrapped[i]]
            else:
                cut = functools.partial(_windows, text, self._token_offsets(text), self.options.chunk_overlap)
                windows = fit(cut, measure, budget, limit)
                pieces = [self.apply_template(w) for w in windows]
            inputs.extend(pieces)
            owners.extend([i] * len(pieces))
        return inputs, owners

    def _finish(self, vectors: np.ndarray) -> np.ndarray:
        vectors = np.asarray(vectors, dtype=np.float32)
        if self.options.truncate_dim is not None:
            vectors = vectors[:, : self.options.truncate_dim]
        if self.normalize:
            vectors = unit_rows(vectors)
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _cut_one(text: str, offsets, budget: int) -> list[str]:
    return [cut_to_budget(text, offsets, budget)]


def _windows(text: str, offsets, overlap: int, budget: int) -> list[str]:
    return split_windows(text, offsets, budget, overlap)


def _as_text_list(texts: Iterable[str] | str) -> list[str]:
    if isinstance(texts, str):
        return [texts]
    if isinstance(texts, np.ndarray):
        texts = texts.tolist()
    texts = list(texts) if not isinstance(texts, Sequence) else texts
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError(f"texts[{i}] is {type(text).__name__}, not str: pass a list of strings")
    return list(texts)


def _mean_by_owner(vectors: np.ndarray, owners: list[int], n: int) -> np.ndarray:
    """Mean of the window vectors of each text (owners[j] = text of window j)."""
    owner_index = np.asarray(owners)
    sums = np.zeros((n, vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, owner_index, vectors)
    counts = np.bincount(owner_index, minlength=n)[:, None]
    return (sums / counts).astype(np.float32)
