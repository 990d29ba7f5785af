"""The value types of the index package: a search result (`Hit`), the read snapshot searches work on
(`Snapshot`), and the index's own errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from emberta.errors import EmbertaError, InputError

if TYPE_CHECKING:
    from emberta.index.ann import Ann


class IndexLockedError(EmbertaError):
    """Another process is writing to the index."""


class DuplicateIdError(InputError):
    """Documents whose ids are already in the index (or twice in one batch), without upsert."""


@dataclass(frozen=True)
class Field:
    """A filterable metadata field: its user-facing `name`, the SQL `column` that holds it and its `type`."""

    name: str
    column: str
    type: str


@dataclass
class Column:
    """One field held in memory, row i = slot i. Numbers and booleans: float64 `values` with NaN for missing.
    Text: int32 `codes` into the sorted `categories`, -1 for missing (sorted codes keep string order)."""

    type: str
    values: np.ndarray | None = None
    codes: np.ndarray | None = None
    categories: list[str] | None = None

    @property
    def missing(self) -> np.ndarray:
        return self.codes < 0 if self.type == "text" else np.isnan(self.values)


class Hit(NamedTuple):
    """One search result: document id, score (cosine for dense, BM25 for bm25, fused RRF for hybrid), text,
    metadata (None when the search was asked not to include them)."""

    id: str
    score: float
    text: str | None
    metadata: dict | None


@dataclass(frozen=True)
class Snapshot:
    """One committed generation of an index as a reader sees it: `slots` (live and dead) with their `live`
    mask, `ids` (slot -> document id, None at dead slots), the filter `columns` (SQL column name -> Column,
    row = slot), the `ann` structure and the float32 unit `vectors` (slots, dim), memory-mapped.

    `Index.snapshot()` hands out a new one after each committed write (at once for this process's writes, within
    REFRESH_SECONDS for another process's). A snapshot held on answers for its own generation: this process's
    later additions go into the same ANN structure, and searches of the snapshot skip the slots past its own.
    `neighbourhood` remembers the CSLS neighbourhood means r(d) computed on this snapshot (a memo, not state)."""

    generation: int
    slots: int
    live: np.ndarray
    all_live: bool  # no slot is dead: no deletions or replacements to skip
    ids: Sequence[str | None]
    columns: Mapping[str, Column]
    ann: Ann
    vectors: np.ndarray
    neighbourhood: dict[int, float] = field(default_factory=dict, compare=False, repr=False)
