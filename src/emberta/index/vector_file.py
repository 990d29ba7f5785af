"""vectors.f32: the index's float32 vectors, row = slot, appended in place and memory-mapped for reading.

The file may hold rows past the committed slot count (a writer killed between appending and committing);
readers map only the committed rows and the next writer cuts the tail off before appending.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from emberta.errors import EmbertaError
from emberta.index.crashpoints import reached


class VectorFile:
    """Rows of `dim` float32 values in a raw file."""

    def __init__(self, path: str | Path, dim: int):
        self.path = Path(path)
        self.dim = dim
        self.row_bytes = 4 * dim

    def rows_on_disk(self) -> int:
        """Whole rows the file holds now (0 when missing)."""
        return self.path.stat().st_size // self.row_bytes if self.path.exists() else 0

    def check(self, rows: int) -> str | None:
        """What is wrong with the file for `rows` committed rows, or None."""
        if not self.path.exists():
            return None if rows == 0 else f"{self.path.name} is missing ({rows} vectors expected)"
        have = self.rows_on_disk()
        if have < rows:
            return f"{self.path.name} is truncated: it holds {have} of {rows} vectors"
        return None

    def view(self, rows: int) -> np.ndarray:
        """A read-only (rows, dim) memory map of the committed rows."""
        if rows == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        problem = self.check(rows)
        if problem:
            raise EmbertaError(f"{problem}; run `emberta index repair {self.path.parent}`")
        return np.memmap(self.path, dtype=np.float32, mode="r", shape=(rows, self.dim))

    def append(self, vectors: np.ndarray, committed_rows: int) -> None:
        """Write `vectors` after the first `committed_rows` rows (dropping any uncommitted tail) and make them
        durable before the caller commits the batch that refers to them."""
        data = np.ascontiguousarray(vectors, dtype=np.float32).tobytes()
        half = len(data) // 2 // self.row_bytes * self.row_bytes
        with open(self.path, "ab") as handle:
            handle.truncate(committed_rows * self.row_bytes)
        with open(self.path, "r+b") as handle:
            handle.seek(committed_rows * self.row_bytes)
            handle.write(data[:half])
            handle.flush()
            reached("vectors-half")
            handle.write(data[half:])
            handle.flush()
            os.fsync(handle.fileno())
        reached("vectors-appended")

    def rewrite(self, vectors: np.ndarray) -> None:
        """Replace the whole file (repair) through a temporary file and a rename."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as handle:
            handle.write(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
