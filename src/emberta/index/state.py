"""What an open index sees of its committed state: the generation counter of docs.sqlite tells when a write was
committed (by this process or another), the ANN is reloaded then (or caught up from the vectors when a writer
died between committing and saving it), and `Snapshot`s are built once per generation."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from emberta.errors import EmbertaError
from emberta.index.ann import Ann, AnnSpec
from emberta.index.documents import DocumentStore
from emberta.index.layout import ANN
from emberta.index.types import Snapshot
from emberta.index.vector_file import VectorFile

# Asking SQLite for the generation costs as much as a tenth of an HNSW search, so a reader looks for another
# process's writes at most this often (a writer sees its own writes at once).
REFRESH_SECONDS = 0.05


class IndexState:
    """The committed generation of one index, followed for one open `Index`."""

    def __init__(self, path: Path, store: DocumentStore, vectors: VectorFile, spec: AnnSpec, dim: int):
        self.path, self.store, self.vectors, self.spec, self.dim = path, store, vectors, spec, dim
        self.generation = -1
        self.slots = 0
        self.ann: Ann | None = None
        self.ann_behind = False  # the ANN in memory holds vectors the ANN file lacks
        self._checked_at = -1.0
        self._snapshot: Snapshot | None = None

    def due(self, max_age: float) -> bool:
        """Whether the last look at the committed state was `max_age` seconds ago or more."""
        return time.monotonic() - self._checked_at >= max_age

    def refresh(self, max_age: float = 0.0) -> None:
        """Reload what committed writes changed, unless the last look was under `max_age` seconds ago (cheap
        when nothing changed; deletions alone keep the vectors and the ANN)."""
        now = time.monotonic()
        if now - self._checked_at < max_age:
            return
        self._checked_at = now
        generation = self.store.generation
        if generation == self.generation:
            return
        slots = self.store.slots
        if self.ann is None or slots != self.slots:
            self.ann, slots, generation = self._load_ann(slots, generation)
        self.slots, self.generation = slots, generation

    def _load_ann(self, slots: int, generation: int) -> tuple[Ann, int, int]:
        """The ANN over `slots` committed slots (of generation `generation`), caught up from the vectors when its
        file is behind. Returns (ann, slots, generation): when another process committed more slots and saved
        their ANN file after `slots` was read, those of the newer commit (read again, generation first)."""
        ann = Ann(self.spec, self.dim) if slots == 0 else Ann.load(self.path / ANN, self.spec, self.dim)
        if ann.ntotal > slots:  # a writer committed and saved its ANN between our reads: follow it
            generation, slots = self.store.generation, self.store.slots
        problem = self.vectors.check(slots)
        if problem:
            raise EmbertaError(f"{self.path}: {problem}; run `emberta index repair {self.path}`")
        if ann.ntotal > slots:
            raise EmbertaError(
                f"{self.path / ANN} holds {ann.ntotal} vectors but the index has {slots}; "
                f"run `emberta index repair {self.path}`"
            )
        self.ann_behind = ann.ntotal < slots
        if self.ann_behind:  # a writer died between committing and saving the ANN: catch up from the vectors
            view = self.vectors.view(slots)
            ann.add(np.asarray(view[ann.ntotal :]), all_vectors=lambda: view)
        return ann, slots, generation

    def appended(self, vectors: np.ndarray, slots: int, generation: int) -> None:
        """This process committed `vectors` as the slots up to `slots` (generation `generation`): add them to the
        ANN in memory (the caller saves it)."""
        view = self.vectors.view(slots)
        self.ann.add(vectors, all_vectors=lambda: view)
        self.slots, self.generation = slots, generation
        self.ann_behind = True

    def save_ann(self) -> None:
        """Write the ANN in memory to the ANN file."""
        self.ann.save(self.path / ANN)
        self.ann_behind = False

    def snapshot(self) -> Snapshot:
        """The snapshot of the generation seen last (built from docs.sqlite once per generation)."""
        if self._snapshot is None or self._snapshot.generation != self.generation:
            live, ids, columns = self.store.columns(self.slots)
            self._snapshot = Snapshot(
                generation=self.generation, slots=self.slots, live=live, all_live=bool(live.all()), ids=ids,
                columns=columns, ann=self.ann, vectors=self.vectors.view(self.slots),
            )  # fmt: skip
        return self._snapshot
