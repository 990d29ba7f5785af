"""The Ray Data pipeline of a scaled-out encode: a datasource whose read tasks read input files with emberta's
TextReader, one block per piece; `map_batches` over an actor pool whose actors each load the encoder once; the
driver collects rows by (piece, row), so retried or repeated rows land once, and writes each piece's shard
when its last row arrives.

Ray Data restarts an actor that dies (a killed worker process, a lost node) and retries its batch; a read task
that dies is retried too. Either way a row may arrive twice and is kept once.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from emberta.errors import EmbertaError, ModelError
from emberta.scale.inputs import Piece, ReaderArgs
from emberta.scale.shards import write_shard

ROWS_PER_BATCH = 256


@dataclass(frozen=True)
class EncodeSpec:
    """What every actor loads and how it encodes: load_encoder(model, **options), the resolved prompt, the
    encoder's batch size, and the fingerprint the driver's encoder has (an actor whose model differs refuses)."""

    model: str
    options: dict
    prompt: str | None
    batch_size: int
    fingerprint: str


class EncodeActor:
    """A Ray Data map_batches callable: loads the encoder once, then turns batches of (piece, row, id, text)
    into (piece, row, id, vector, long)."""

    def __init__(self, spec: EncodeSpec):
        from emberta.encoders import load_encoder

        self.spec = spec
        self.encoder = load_encoder(spec.model, **spec.options)
        if self.encoder.fingerprint != spec.fingerprint:
            raise ModelError(
                f"model {spec.model!r} on this Ray worker has fingerprint {self.encoder.fingerprint[:12]}, the "
                f"driver's {spec.fingerprint[:12]}: give every node the same model files and emberta version"
            )

    def __call__(self, batch: dict) -> dict:
        from emberta.encoders.long_text import LongTextWarning

        texts = [str(t) for t in batch["text"]]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", LongTextWarning)
            vectors = self.encoder.encode(
                texts, prompt=self.spec.prompt, batch_size=self.spec.batch_size, show_progress=False
            )
        long = sum(w.message.count for w in caught if isinstance(w.message, LongTextWarning))
        counts = np.zeros(len(texts), dtype=np.int64)
        if len(texts):
            counts[0] = long
        return {"piece": batch["piece"], "row": batch["row"], "id": batch["id"], "vector": vectors, "long": counts}


def read_blocks(path: str, label: str | None, reader: ReaderArgs, pieces: list[tuple[int, int, int]],
                block_rows: int) -> Iterator:  # fmt: skip
    """Read one input file and yield the wanted pieces (piece number, start, stop) as pyarrow blocks of at most
    `block_rows` rows (small blocks: the first vectors come back soon): columns piece, row (0-based in the
    piece), id, text. `label`, when given, prefixes the ids ("name.jsonl:17")."""
    import pyarrow as pa

    position = 0
    with reader.open(path) as records_reader:
        records = iter(records_reader)
        for number, start, stop in sorted(pieces, key=lambda p: p[1]):
            for _ in range(start - position):
                next(records)
            for first in range(start, stop, block_rows):
                block = [next(records) for _ in range(min(block_rows, stop - first))]
                ids = [r.id if label is None else f"{label}:{r.id}" for r in block]
                yield pa.table(
                    {
                        "piece": pa.array([number] * len(block), pa.int64()),
                        "row": pa.array(range(first - start, first - start + len(block)), pa.int64()),
                        "id": pa.array(ids, pa.string()),
                        "text": pa.array([r.text for r in block], pa.string()),
                    }
                )
            position = stop


def pieces_dataset(ray, files: list[Path], labels: list[str | None], reader: ReaderArgs, pieces: list[Piece]):
    """A Ray Dataset of the pending pieces' records: one read task per input file, blocks of ROWS_PER_BATCH."""
    from ray.data.block import BlockMetadata
    from ray.data.datasource import Datasource, ReadTask

    block_rows = ROWS_PER_BATCH
    by_file: dict[int, list[tuple[int, int, int]]] = {}
    for number, piece in enumerate(pieces):
        by_file.setdefault(piece.file, []).append((number, piece.start, piece.stop))

    class PiecesDatasource(Datasource):
        def estimate_inmemory_data_size(self) -> int | None:
            return None

        def get_read_tasks(self, parallelism: int, **_) -> list:
            tasks = []
            for file, wanted in sorted(by_file.items()):
                path, label = str(files[file]), labels[file]
                rows = sum(stop - start for _, start, stop in wanted)
                meta = BlockMetadata(num_rows=rows, size_bytes=None, exec_stats=None, input_files=[path])
                tasks.append(ReadTask(partial(read_blocks, path, label, reader, wanted, block_rows), meta))
            return tasks

    # reading takes little CPU next to encoding; a read task that asked for a whole CPU would wait forever for
    # one when the actors hold every CPU of the cluster
    return ray.data.read_datasource(PiecesDatasource(), override_num_blocks=max(1, len(by_file)), num_cpus=0)


@dataclass
class ShardCollector:
    """Rows arriving in any order, any number of times: each piece's rows placed by row number and its shard
    written when the last one is in. `duplicates` counts rows that arrived again."""

    out: Path
    pieces: list[Piece]
    dim: int
    on_shard: Callable[[Piece], None] | None = None
    duplicates: int = 0
    long_texts: int = 0
    written: int = 0
    _open: dict = field(default_factory=dict)

    def add(self, batch: dict) -> None:
        self.long_texts += int(np.sum(batch["long"]))
        vectors = np.asarray(batch["vector"], dtype=np.float32).reshape(len(batch["piece"]), self.dim)
        for number in np.unique(batch["piece"]):
            mask = batch["piece"] == number
            self._place(int(number), batch["row"][mask], batch["id"][mask], vectors[mask])

    def _place(self, number: int, rows: np.ndarray, ids: np.ndarray, vectors: np.ndarray) -> None:
        piece = self.pieces[number]
        if number not in self._open:
            self._open[number] = ([None] * piece.rows, np.zeros((piece.rows, self.dim), np.float32),
                                  np.zeros(piece.rows, bool))  # fmt: skip
        piece_ids, piece_vectors, filled = self._open[number]
        fresh = ~filled[rows]
        self.duplicates += int(np.sum(~fresh))
        for row, rid in zip(rows[fresh], ids[fresh], strict=True):
            piece_ids[row] = str(rid)
        piece_vectors[rows[fresh]] = vectors[fresh]
        filled[rows[fresh]] = True
        if filled.all():
            write_shard(self.out / piece.shard, piece_ids, piece_vectors)
            del self._open[number]
            self.written += 1
            if self.on_shard is not None:
                self.on_shard(piece)


def run_pipeline(ray, dataset, spec: EncodeSpec, workers: int, cpus: float, collector: ShardCollector,
                 on_rows: Callable[[int], None] | None = None) -> None:  # fmt: skip
    """Encode `dataset` on `workers` actors of `cpus` CPUs each and feed the results to `collector`."""
    encoded = dataset.map_batches(
        EncodeActor,
        fn_constructor_args=(spec,),
        batch_size=ROWS_PER_BATCH,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=cpus,
    )
    try:
        for batch in encoded.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=1):
            collector.add(batch)
            if on_rows is not None:
                on_rows(len(batch["piece"]))
    except Exception as exc:  # a user error raised on a worker comes back wrapped in Ray's task error
        cause = user_error(exc)
        if cause is not None:
            raise cause from None
        raise


def user_error(exc: BaseException | None) -> EmbertaError | None:
    """The EmbertaError a Ray worker raised, unwrapped from Ray's exceptions (which carry it as `cause`), or None."""
    for _ in range(10):
        if exc is None:
            return None
        if isinstance(exc, EmbertaError) and not type(exc).__module__.startswith("ray"):
            return exc
        exc = getattr(exc, "cause", None) or exc.__cause__
    return None
