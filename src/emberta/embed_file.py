"""Encode a whole input file into a vector file, streaming: read a block of records, encode it, append it.

Memory stays bounded by the block size whatever the file size; the output appears only when every row is
written (see io.vectors.VectorWriter).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import islice

from emberta.encoders.base import Encoder
from emberta.encoders.long_text import LongTextWarning
from emberta.errors import OutputError
from emberta.io.atomic import disk_full
from emberta.io.readers import TextReader
from emberta.io.vectors import VectorWriter

DEFAULT_BLOCK = 4096


@dataclass(frozen=True)
class EncodeReport:
    """What `encode_file` did: rows written, vector width, texts truncated, lines decoded with replacement."""

    count: int
    dim: int
    long_texts: int
    replaced_lines: int
    sidecar: dict


def encode_file(
    encoder: Encoder,
    reader: TextReader,
    out: str,
    *,
    prompt: str | None = None,
    prompt_name: str | None = None,
    batch_size: int = 32,
    limit: int | None = None,
    block_size: int = DEFAULT_BLOCK,
    on_progress: Callable[[int], None] | None = None,
) -> EncodeReport:
    """Encode the records of `reader` (at most `limit`) into `out` (.npy or .parquet) with a sidecar.

    on_progress(k) is called after each block with the number of rows just written. Texts over max_length are
    counted across blocks and reported once (a LongTextWarning, and in the report).
    """
    resolved_prompt = encoder.resolve_prompt(prompt, prompt_name)
    metadata = {
        "model": encoder.name,
        "model_path": str(encoder.folder.path),
        "backend": encoder.backend,
        "fingerprint": encoder.fingerprint,
        "options": encoder.vector_options(),
        "prompt": resolved_prompt,
        "source": reader.name,
        "field": None if reader.format == ".txt" else reader.field,
        "id_field": reader.id_field,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    long_texts = 0
    records = islice(reader, limit)
    writers: list[VectorWriter] = []
    with _full_disk_errors(out, writers), VectorWriter(out, encoder.dim, with_ids=reader.id_field is not None,
                                                       metadata=metadata) as writer:  # fmt: skip
        writers.append(writer)
        while block := list(islice(records, block_size)):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", LongTextWarning)
                vectors = encoder.encode(
                    [r.text for r in block],
                    prompt=resolved_prompt,
                    batch_size=batch_size,
                    show_progress=False,
                )
            for warning in caught:
                if isinstance(warning.message, LongTextWarning):
                    long_texts += warning.message.count
                else:
                    warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
            writer.write(vectors, [r.id for r in block])
            if on_progress is not None:
                on_progress(len(block))
    if long_texts:
        warnings.warn(LongTextWarning(long_texts, writer.count, encoder.max_length), stacklevel=2)
    return EncodeReport(writer.count, encoder.dim, long_texts, reader.replaced_lines, writer.sidecar)


@contextmanager
def _full_disk_errors(out: str, writers: list[VectorWriter]) -> Iterator[None]:
    """Turn "no space left on device" while writing `out` into an OutputError, after removing the temporary files
    of `writers` (a writer that failed while finishing keeps them, and they would keep the disk full)."""
    try:
        yield
    except OSError as exc:
        if not disk_full(exc):
            raise
        for writer in writers:
            writer.abort()
        raise OutputError(
            f"--out {out}: no space left on device; nothing was written (the partial output was removed); free "
            "some space or choose another --out"
        ) from None
