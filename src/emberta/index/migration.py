"""Moving an index to a new model without downtime (`emberta index migrate`).

While a migration is under way the index folder holds

    migration/migration.json   the new model (spec, options, fingerprint, prompts, dim), the adapter's method and
                               the space it maps into, the start time and the number of documents to re-encode
    migration/adapter/         an emberta.align.Adapter mapping the new model's vectors into the index's space

and the new index is built beside it, in `.NAME.next/`: an ordinary index of the new model. From the moment
migration.json exists, every reader encodes text queries with the new model and maps them through the adapter
(query vectors given directly are taken as the new model's); the stored vectors are untouched. The migrating
process holds the old index's write lock throughout, and writes to an index with a migration under way are
refused even when no process holds the lock (a killed migration), so the documents cannot change under it.

Re-encoding copies the live documents in slot order, one commit of the new index per block; a migration
killed at any point resumes after the last committed block (documents already present are skipped by id).
At the end the new index's ANN is saved and its folder replaces the old one whole (io.atomic.replace_dir;
a kill between its two renames is undone by the next open, layout.recover_swap). Open readers see the new
folder on their next search (Index follows a replaced folder), without the adapter.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from emberta.errors import InputError, OptionError
from emberta.index import layout
from emberta.index.crashpoints import reached
from emberta.io.atomic import replace_dir, write_text_atomic
from emberta.io.jsontext import read_json_file
from emberta.similarity import unit_rows

FOLDER, STATE_FILE, ADAPTER = "migration", "migration.json", "adapter"
FORMAT = "emberta.migration/1"
DEFAULT_FIT_ON = 5000


def next_path(path: Path) -> Path:
    """Where the new index of a migration of the index at `path` is built."""
    return path.with_name(f".{path.name}.next")


@dataclass
class Migration:
    """A migration under way, as readers use it: `target` is the new model's encoder settings (as index.json
    records them, plus "dim"); `adapter` maps its vectors into the index's space, which is the old encoder's
    own space when `maps_to` is "encoder" (then the index's transform follows) or the stored vectors' when
    "index"."""

    path: Path
    target: dict
    adapter: object
    maps_to: str
    started: str
    total: int

    @property
    def fingerprint(self) -> str:
        return self.target["fingerprint"]

    def to_index_space(self, vectors: np.ndarray, prepare: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """New-model vectors (n, new dim) -> (n, index dim) as the index compares them."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.target["dim"]:
            raise OptionError(
                f"query vectors of shape {vectors.shape}; while {self.path} migrates to {self.target['name']!r}, it "
                f"takes that model's vectors, (n, {self.target['dim']})"
            )
        mapped = np.asarray(self.adapter.map(vectors), dtype=np.float32)
        return prepare(mapped) if self.maps_to == "encoder" else unit_rows(mapped).astype(np.float32)

    def progress(self) -> dict:
        """{"to", "fingerprint", "method", "started", "documents", "re_encoded"} (re-encoded: committed so far)."""
        from emberta.index.documents import DocumentStore

        done = 0
        docs = next_path(self.path) / layout.DOCS
        if docs.is_file():
            store = DocumentStore(docs)
            done = store.count()
            store.close()
        return {"to": self.target.get("spec"), "fingerprint": self.fingerprint, "method": self.adapter.method,
                "started": self.started, "documents": self.total, "re_encoded": done}  # fmt: skip


def read_migration(path: Path) -> Migration | None:
    """The migration under way in the index at `path`, or None. A migration folder without migration.json
    (a start killed before it was written) is no migration."""
    from emberta.align import Adapter

    file = path / FOLDER / STATE_FILE
    if not file.is_file():
        return None
    spec = read_json_file(file)
    keys = ("target", "maps_to", "started", "documents")
    if not isinstance(spec, dict) or spec.get("format") != FORMAT or any(k not in spec for k in keys):
        raise InputError(f"not an {FORMAT} file; cancel the migration with `emberta index migrate {path} --cancel`",
                         path=file)  # fmt: skip
    adapter = Adapter.load(path / FOLDER / ADAPTER)
    return Migration(path, spec["target"], adapter, spec["maps_to"], spec["started"], int(spec["documents"]))


def require_no_migration(path: Path, migration: Migration | None) -> None:
    """Writes to an index that is migrating are refused (the documents must not change under the copy)."""
    if migration is not None:
        raise OptionError(
            f"{path} is migrating to {migration.target.get('spec')!r}; writes wait until it ends: resume it with "
            f"`emberta index migrate {path} --to-model {migration.target.get('spec')}`, or cancel it with "
            f"`emberta index migrate {path} --cancel`"
        )


def cancel_migration(path: str | Path) -> bool:
    """Drop the migration under way (its adapter and the half-built new index), under the write lock. Returns
    whether there was one."""
    path = Path(path)
    layout.require_documents(path)
    lock = layout.acquire_lock(path)
    try:
        found = (path / FOLDER).exists()
        shutil.rmtree(path / FOLDER, ignore_errors=True)  # migration.json first gone: readers stop mapping
        shutil.rmtree(next_path(path), ignore_errors=True)
        return found
    finally:
        lock.close()


def write_state(path: Path, target: dict, maps_to: str, documents: int) -> None:
    """migration.json: written last when a migration starts (its presence is the start)."""
    state = {"format": FORMAT, "target": target, "maps_to": maps_to, "documents": int(documents),
             "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}  # fmt: skip
    write_text_atomic(path / FOLDER / STATE_FILE, json.dumps(state, indent=2) + "\n")
    reached("migrate-started")


def swap_in(path: Path) -> None:
    """Replace the index at `path` by the finished new index beside it."""
    reached("migrate-built")
    replace_dir(next_path(path), path)


def folder_identity(path: Path) -> tuple | None:
    """What changes when the folder is replaced or starts or ends a migration: the inode of its documents
    database and the modification time of migration.json. None while the folder is missing (mid-swap)."""
    try:
        docs = os.stat(path / layout.DOCS).st_ino
    except FileNotFoundError:
        return None
    try:
        started = os.stat(path / FOLDER / STATE_FILE).st_mtime_ns
    except FileNotFoundError:
        started = None
    return docs, started
