"""emberta: an offline-first toolkit for text embeddings with BERT/RoBERTa-family encoders.

Heavy libraries (torch, transformers, sentence-transformers) load only when a model is loaded, so
`import emberta` stays fast.
"""

from __future__ import annotations

from emberta.compare import compare_models
from emberta.encoders import Encoder, LongTextWarning, load_encoder
from emberta.errors import EmbertaError, InputError, ModelError, OptionError, OutputError
from emberta.evaluation import evaluate
from emberta.io.readers import read_texts
from emberta.io.vectors import read_vectors, write_vectors
from emberta.version import __version__

__all__ = [
    "EmbertaError",
    "Encoder",
    "InputError",
    "LongTextWarning",
    "ModelError",
    "OptionError",
    "OutputError",
    "__version__",
    "compare_models",
    "evaluate",
    "load_encoder",
    "read_texts",
    "read_vectors",
    "write_vectors",
]
