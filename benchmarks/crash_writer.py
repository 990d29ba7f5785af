"""The writer that benchmarks/crash.py and concurrency.py kill or race: random batches of add, upsert, delete and
compaction on one index through emberta's public API, each batch logged before it starts (intent) and after it
returns (acknowledgement), both lines fsync'ed. Also the pure model of what a batch does, which the parent
replays to know what the index must hold.

    python benchmarks/crash_writer.py INDEX STATE LOG SEED

The child imports everything, prints "ready", then waits for a line on standard input (so the parent can start
it ahead of time) and runs batches until it is killed. STATE (JSON) holds the documents the index holds ({id:
batch}) and the next batch number.
"""

from __future__ import annotations

import json
import os
import random
import sys
import zlib
from pathlib import Path

import numpy as np

DIM = 16
FINGERPRINT = "crash-campaign"
MAX_DOCS = 2500  # above this, the writer mostly deletes, so the index stays small and each check stays fast
OPS = (("add", 0.45), ("upsert", 0.25), ("delete", 0.2), ("compact", 0.1))


def text_of(doc_id: str, batch: int) -> str:
    """The text a document gets when batch `batch` writes it."""
    return f"document {doc_id} written by batch {batch}"


def vector_of(text: str) -> np.ndarray:
    """The (DIM,) unit float32 vector stored for `text` (deterministic, so the checker can recompute it)."""
    v = np.random.default_rng(zlib.crc32(text.encode())).normal(size=DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def plan(rng: random.Random, docs: dict[str, int], batch: int) -> dict:
    """The next batch: {"op", "batch", "ids"} chosen at random given the documents `docs` ({id: batch}) held."""
    weights = [w for _, w in OPS]
    if len(docs) > MAX_DOCS:
        weights = [0.1, 0.2, 0.6, 0.1]
    op = rng.choices([name for name, _ in OPS], weights)[0]
    held = sorted(docs)
    if op in ("upsert", "delete") and not held:
        op = "add"
    fresh = [f"{batch}-{i}" for i in range(rng.randint(1, 60))]
    if op == "add":
        ids = fresh
    elif op == "upsert":
        ids = rng.sample(held, min(len(held), rng.randint(1, 40))) + fresh[: rng.randint(0, 10)]
    elif op == "delete":
        ids = rng.sample(held, min(len(held), rng.randint(1, 60)))
    else:
        ids = []
    return {"op": op, "batch": batch, "ids": ids}


def apply(docs: dict[str, int], batch: dict) -> dict[str, int]:
    """The documents ({id: batch}) after `batch` is applied to `docs` (a new dict)."""
    after = dict(docs)
    if batch["op"] in ("add", "upsert"):
        after.update({doc_id: batch["batch"] for doc_id in batch["ids"]})
    elif batch["op"] == "delete":
        for doc_id in batch["ids"]:
            after.pop(doc_id, None)
    return after


def expected_documents(docs: dict[str, int]) -> dict[str, tuple[str, dict]]:
    """{id: (text, metadata)} the index must hold for `docs` ({id: batch})."""
    return {doc_id: (text_of(doc_id, b), {"batch": b}) for doc_id, b in docs.items()}


def run_batch(index, path: Path, batch: dict):
    """Write `batch` to the open writable `index`; returns the index (compaction reopens it)."""
    from emberta.index import Index
    from emberta.index.maintenance import compact_index

    if batch["op"] == "compact":
        index.close()
        compact_index(path)
        return Index.open(path, writable=True)
    if batch["op"] == "delete":
        index.delete(batch["ids"])
        return index
    texts = [text_of(doc_id, batch["batch"]) for doc_id in batch["ids"]]
    index.add(texts, batch["ids"], [{"batch": batch["batch"]}] * len(texts),
              vectors=np.stack([vector_of(t) for t in texts]), fingerprint=FINGERPRINT,
              upsert=batch["op"] == "upsert")  # fmt: skip
    return index


def log_line(handle, record: dict) -> None:
    """Append one JSON line to the log and make it durable."""
    handle.write(json.dumps(record) + "\n")
    handle.flush()
    os.fsync(handle.fileno())


def main() -> None:
    from emberta.index import Index

    path, state_file, log_file, seed = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
    print("ready", flush=True)
    if not sys.stdin.readline():
        return  # the parent went away
    state = json.loads(state_file.read_text())
    docs, batch_number = state["docs"], state["next"]
    rng = random.Random(seed)
    index = Index.open(path, writable=True)
    with open(log_file, "a", encoding="utf-8") as log:
        while True:
            batch = plan(rng, docs, batch_number)
            log_line(log, {"intent": batch})
            index = run_batch(index, path, batch)
            log_line(log, {"ack": batch_number})
            docs = apply(docs, batch)
            batch_number += 1


if __name__ == "__main__":
    main()
