"""Concurrency: 4 writer processes contend for one index while 8 reader processes search it.

Only one writer holds the write lock at a time; the others get IndexLockedError and retry with random
exponential backoff. Each writer adds batches of 5-30 documents whose vectors lie close together (a batch's own
direction), now and then upserts or deletes one of its earlier batches whole, and logs each batch it got
acknowledged (fsync'ed). Document ids name the batch and its size ("w2-b17-3-of-12"), so a reader that finds
any document of a batch by an exact search for the batch's direction knows how many it must find: fewer is a
torn read (a result that is not one committed state). Readers search with ids only (the snapshot's view) and,
as a second check, with metadata (read from SQLite after ranking). At the end the index must hold exactly what
the acknowledged batches say.

    .venv/bin/python benchmarks/concurrency.py [--seconds 60] [--writers 4] [--readers 8] [--json PATH]
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import tempfile
import time
import zlib
from collections import Counter
from pathlib import Path

import numpy as np

from common import parser as benchmark_parser

DIM = 32
FINGERPRINT = "concurrency"
BATCHES = 400  # batch numbers a writer may use; readers look for any of them


def direction(tag: str) -> np.ndarray:
    """The unit vector of batch `tag`."""
    v = np.random.default_rng(zlib.crc32(tag.encode())).normal(size=DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def batch_vectors(tag: str, n: int, version: int) -> np.ndarray:
    """n vectors within ~0.01 of the batch's direction (a new draw for each version)."""
    noise = np.random.default_rng([zlib.crc32(tag.encode()), version]).normal(scale=0.003, size=(n, DIM))
    return (direction(tag) + noise).astype(np.float32)


def parse_id(doc_id: str) -> tuple[str, int]:
    """("w2-b17", 12) from "w2-b17-3-of-12"."""
    writer, batch, _, _, n = doc_id.split("-")
    return f"{writer}-{batch}", int(n)


def open_writable(path: Path, rng: random.Random, counts: Counter):
    """Index.open(path, writable=True), retrying with random exponential backoff while another writer holds it."""
    from emberta.index import Index, IndexLockedError

    wait = 0.005
    while True:
        try:
            return Index.open(path, writable=True)
        except IndexLockedError:
            counts["lock_errors"] += 1
            time.sleep(rng.uniform(0, wait))
            wait = min(wait * 2, 0.5)


def writer(path: Path, number: int, seconds: float, log: Path, queue) -> None:
    """Write batches for `seconds`; acknowledged batches go to `log`, the counts to `queue`."""
    rng, counts = random.Random(number), Counter()
    mine: dict[int, int] = {}  # batch -> size, of the batches held
    end = time.monotonic() + seconds
    with open(log, "a", encoding="utf-8") as acks:
        for batch in range(BATCHES):
            if time.monotonic() > end:
                break
            op, target = "add", batch
            if mine and rng.random() < 0.3:
                op, target = rng.choice(["upsert", "upsert", "delete"]), rng.choice(sorted(mine))
            n = mine.get(target) or rng.randint(5, 30)
            tag = f"w{number}-b{target}"
            ids = [f"{tag}-{i}-of-{n}" for i in range(n)]
            index = open_writable(path, rng, counts)
            try:
                if op == "delete":
                    index.delete(ids)
                else:
                    index.add([f"{tag} document {i}" for i in range(n)], ids, [{"tag": tag, "n": n}] * n,
                              vectors=batch_vectors(tag, n, batch), fingerprint=FINGERPRINT,
                              upsert=op == "upsert")  # fmt: skip
            finally:
                index.close()
            acks.write(json.dumps({"op": op, "tag": tag, "ids": ids}) + "\n")
            acks.flush()
            os.fsync(acks.fileno())
            counts[op] += 1
            if op == "delete":
                mine.pop(target)
            else:
                mine[target] = n
    queue.put(("writer", dict(counts)))


def check_hits(hits, tag: str, counts: Counter, kind: str, examples: list) -> None:
    """Count a torn read when the hits hold some but not all of batch `tag`'s documents."""
    found = [h for h in hits if parse_id(h.id)[0] == tag]
    if found:
        n = parse_id(found[0].id)[1]
        counts[f"batches_seen_{kind}"] += 1
        if len(found) != n or (kind == "metadata" and any(h.metadata is None for h in found)):
            counts[f"torn_reads_{kind}"] += 1
            if len(examples) < 5:
                examples.append(f"{kind}: {tag} {len(found)} of {n}")


def reader(path: Path, number: int, seconds: float, writers: int, queue) -> None:
    """Search for `seconds`, checking that every batch seen is whole; the counts go to `queue`."""
    from emberta.index import Index

    rng, counts, examples = random.Random(1000 + number), Counter(), []
    index = Index.open(path)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        tag = f"w{rng.randrange(writers)}-b{rng.randrange(60)}"
        try:
            hits = index.search(direction(tag), 40, exact=True, include=())
            check_hits(hits, tag, counts, "ids", examples)
            hits = index.search(direction(tag), 40, exact=True, include=("metadata",))
            check_hits(hits, tag, counts, "metadata", examples)
            index.search(direction(tag), 10)  # the ANN path, for errors only
            counts["searches"] += 3
        except Exception as exc:  # every error a reader meets is counted
            counts["reader_errors"] += 1
            if len(examples) < 5:
                examples.append(f"{type(exc).__name__}: {exc}")
    index.close()
    queue.put(("reader", {**counts, "examples": examples}))


def expected(logs: list[Path]) -> set[str]:
    """The ids the acknowledged batches leave in the index (writers use disjoint ids, so order across writers
    does not matter)."""
    ids: set[str] = set()
    for log in logs:
        for line in log.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            ids = ids - set(record["ids"]) if record["op"] == "delete" else ids | set(record["ids"])
    return ids


def run(work: Path, seconds: float, writers: int, readers: int) -> dict:
    """Start the processes, wait for them, check the final contents; returns the counts."""
    from emberta.index import Index
    from emberta.index.maintenance import check_index

    path = work / "idx"
    Index.create(path, model=None, dim=DIM, fingerprint=FINGERPRINT).close()
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    logs = [work / f"acks-{w}.jsonl" for w in range(writers)]
    processes = [context.Process(target=writer, args=(path, w, seconds, logs[w], queue)) for w in range(writers)]
    processes += [context.Process(target=reader, args=(path, r, seconds, writers, queue)) for r in range(readers)]
    for process in processes:
        process.start()
    totals, examples = Counter(), []
    for _ in processes:
        kind, counts = queue.get(timeout=seconds + 600)
        examples += counts.pop("examples", [])
        totals.update({f"{kind}_processes_done": 1, **counts})
    for process in processes:
        process.join()
    totals["process_failures"] = sum(p.exitcode != 0 for p in processes)
    want = expected(logs)
    with Index.open(path) as index:
        held = {i for i in index.snapshot(0).ids if i is not None}
    problems = [p for p in check_index(path) if "stale" not in p and "behind" not in p]
    return {**dict(totals), "acknowledged_batches": sum(len(log.read_text().splitlines()) for log in logs),
            "documents_expected": len(want), "documents_held": len(held), "final_contents_match": held == want,
            "check_problems": problems, "examples": examples}  # fmt: skip


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long readers search (default 60)")
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--json", type=Path, default=None, help="write the counts here as JSON")
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="emberta-concurrency-") as work:
        result = run(Path(work), args.seconds, args.writers, args.readers)
    result["seconds"] = round(time.perf_counter() - start, 1)
    result["machine"] = {"nproc": os.cpu_count()}
    for key, value in result.items():
        print(f"{key:28s} {value}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    torn, match = result.get("torn_reads_ids", 0), "match" if result["final_contents_match"] else "DIFFER from"
    print(f"\nreader errors {result.get('reader_errors', 0)}, torn reads {torn} (ids) / "
          f"{result.get('torn_reads_metadata', 0)} (metadata) in {result.get('searches', 0)} searches; final "
          f"contents {match} the acknowledged batches")  # fmt: skip


if __name__ == "__main__":
    main()
