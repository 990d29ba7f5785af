"""Named points of the index's write path where tests and benchmarks/crash.py kill the writer on purpose.

`reached(name)` is called at each point. It does nothing unless the environment variable EMBERTA_CRASH_POINT was
set when this module was imported (only tests and benchmarks set it): "NAME" kills the process with SIGKILL the
first time it reaches point NAME, "NAME:N" the N-th time. Unset, `reached` is a function that returns at once.

The points, in the order a write passes them:

    vectors-half       half of a batch's vectors written to vectors.f32
    vectors-appended   all of them written and fsync'ed, nothing committed
    documents-written  the documents inserted in the open SQLite transaction, not committed
    committed          a transaction committed (add, upsert or delete), the ANN file not yet saved
    ann-written        the new ANN file written beside the old one (ann.faiss.tmp), not renamed
    config-write       about to replace index.json (the counts)
    compact-built      compaction's new index complete in its hidden folder, not swapped in
    migrate-started    a migration's adapter and migration.json written, nothing re-encoded
    migrate-built      a migration's new index complete beside the old one, not swapped in
"""

from __future__ import annotations

import os
import signal

ENV = "EMBERTA_CRASH_POINT"
# the write path of adds, deletes and compaction (tests/test_index_crash.py and benchmarks/crash.py kill there)
WRITE_POINTS = (
    "vectors-half",
    "vectors-appended",
    "documents-written",
    "committed",
    "ann-written",
    "config-write",
    "compact-built",
)
# a migration's own steps (its re-encoding commits pass the write path's points too)
MIGRATION_POINTS = ("migrate-started", "migrate-built")
POINTS = WRITE_POINTS + MIGRATION_POINTS


def parse(spec: str | None) -> tuple[str, int] | None:
    """EMBERTA_CRASH_POINT's value -> (point, n), or None when unset or empty. ValueError for an unknown point
    or a count that is not a positive integer (a typo must not silently test nothing)."""
    if not spec:
        return None
    name, _, count = spec.partition(":")
    if name not in POINTS:
        raise ValueError(f"{ENV}={spec!r}: unknown point {name!r}; known: {', '.join(POINTS)}")
    n = int(count) if count else 1
    if n < 1:
        raise ValueError(f"{ENV}={spec!r}: the count must be at least 1")
    return name, n


_TARGET = parse(os.environ.get(ENV))
_seen: dict[str, int] = {}


def _never(name: str) -> None:
    """`reached` when no crash point is set: nothing."""


def _count(name: str) -> None:
    """`reached` when a crash point is set: SIGKILL this process on the chosen visit of the chosen point."""
    if name != _TARGET[0]:
        return
    _seen[name] = _seen.get(name, 0) + 1
    if _seen[name] == _TARGET[1]:
        os.kill(os.getpid(), signal.SIGKILL)


reached = _never if _TARGET is None else _count
