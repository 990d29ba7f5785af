"""An index on disk: a directory holding

    index.json    format version, encoder (spec, options, fingerprint), dim, ANN settings, transform, counts
    docs.sqlite   documents (id, text, metadata JSON + typed columns), FTS5 for BM25, state (the commit point;
                  it also keeps a copy of index.json's settings, from which `emberta index repair` restores it)
    vectors.f32   float32 unit vectors, row = slot, memory-mapped
    ann.faiss     the FAISS structure over the slots
    transform/    the fitted transform pipeline applied before indexing (when there is one)
    write.lock    held (flock) by the one writer

This module owns those names, the write lock and reading and writing index.json; `Index` and the whole-index
jobs of maintenance.py both use it.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from emberta.errors import InputError, OutputError
from emberta.index.crashpoints import reached
from emberta.index.types import IndexLockedError
from emberta.io.atomic import disk_full, write_text_atomic
from emberta.io.jsontext import read_json_file
from emberta.version import __version__

FORMAT_VERSION = 1
CONFIG, DOCS, VECTORS, ANN, LOCK, TRANSFORM = (
    "index.json",
    "docs.sqlite",
    "vectors.f32",
    "ann.faiss",
    "write.lock",
    "transform",
)
TRANSFORMS_FILE = "transforms.json"


def new_config(encoder: dict | None, fingerprint: str, dim: int, ann: dict, transform: bool) -> dict:
    """The settings of a new, empty index (written to index.json and kept in docs.sqlite)."""
    return {
        "format_version": FORMAT_VERSION,
        "emberta_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "encoder": encoder,
        "fingerprint": fingerprint,
        "dim": int(dim),
        "dtype": "float32",
        "metric": "cosine",
        "ann": ann,
        "transform": TRANSFORM if transform else None,
        "counts": {"documents": 0, "slots": 0},
    }


def acquire_lock(path: Path) -> IO:
    """Take the write lock of the index at `path` (IndexLockedError naming the holder when another process
    has it). The returned handle holds the lock until it is closed."""
    handle = open(path / LOCK, "a+")  # noqa: SIM115  (held open for the writer's lifetime)
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise IndexLockedError(
            f"{path}: index is locked: {holder} is writing to it; wait for it to finish (readers may search meanwhile)"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    return handle


def read_config(path: Path) -> dict:
    """index.json of the index at `path`, checked to be readable and of this emberta's format (InputError
    saying how to repair or rebuild otherwise)."""
    file = path / CONFIG
    repair = f"run `emberta index repair {path}` to restore it from {DOCS}"
    if not file.is_file():
        raise InputError(f"{CONFIG} is missing; {repair}", path=path)
    config = read_json_file(file, hint=f"; {repair}")
    version = config.get("format_version") if isinstance(config, dict) else None
    if version != FORMAT_VERSION:
        raise InputError(
            f"index format {version!r} where this emberta ({__version__}) reads format {FORMAT_VERSION}; "
            "rebuild the index with this version",
            path=file,
        )
    return config


def write_config(path: Path, config: dict) -> None:
    """Replace index.json of the index at `path` (atomically)."""
    reached("config-write")
    write_text_atomic(path / CONFIG, json.dumps(config, indent=2) + "\n")


@contextmanager
def full_disk_errors(path: Path) -> Iterator[None]:
    """Turn a full filesystem while writing the index at `path` into an OutputError saying so (the index keeps
    every batch committed before; the failed one is all or nothing like any other)."""
    try:
        yield
    except (OSError, sqlite3.OperationalError, RuntimeError) as exc:
        if not disk_full(exc):
            raise
        raise OutputError(
            f"{path}: no space left on device while writing the index; the index keeps what was committed before "
            f"(see `emberta index check {path}`); free some space and run the command again"
        ) from exc


def reports_full_disk(method: Callable) -> Callable:
    """Decorate a writing method of `Index` (whose `.path` names the index) or a whole-index job taking the
    index's path first with full_disk_errors."""

    @functools.wraps(method)
    def wrapper(first, *args, **kwargs):
        with full_disk_errors(getattr(first, "path", first)):
            return method(first, *args, **kwargs)

    return wrapper


def load_transforms(folder: Path) -> list:
    """The fitted transform pipeline saved in `folder` (emberta.transforms.save_transforms)."""
    from emberta.transforms.pipeline import load_transforms as load

    if not (folder / TRANSFORMS_FILE).is_file():
        raise InputError(
            f"no {TRANSFORMS_FILE} here; save a fitted pipeline with emberta.transforms.save_transforms", path=folder
        )
    return load(folder)


def recover_swap(path: Path) -> bool:
    """Finish what a compaction killed while swapping folders left behind: `path` gone and the old index moved
    aside to `.NAME.old` (io.atomic.replace_dir renames the old folder away, then the new one in). The old folder
    holds every committed document, so it is moved back. Returns whether it was."""
    aside = path.with_name(f".{path.name}.old")
    if path.exists() or not (aside / DOCS).is_file():
        return False
    try:
        os.replace(aside, path)
    except OSError:  # another process moved it first, or the swap finished meanwhile
        return False
    return True


def require_documents(path: Path) -> None:
    """InputError unless `path` is a folder holding docs.sqlite (the documents, which nothing else restores);
    first recovers from a compaction killed while swapping folders (recover_swap)."""
    recover_swap(path)
    if not path.is_dir():
        raise InputError("no index here (not a folder); build one with `emberta index build`", path=path)
    if not (path / DOCS).is_file():
        raise InputError(
            f"{DOCS} is missing, so the documents are lost; rebuild the index with `emberta index build`", path=path
        )
