"""A writer killed with SIGKILL at any moment of an add leaves an index that opens consistent, holding all or
none of the batch it was writing. Real subprocesses, killed many times at random moments."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from emberta.index import Index
from emberta.index.maintenance import check_index

DIM = 16
BATCH = 40
WRITER = textwrap.dedent(
    f"""
    import sys
    import numpy as np
    from emberta.index import Index

    def vector(i):
        v = np.random.default_rng(i).normal(size={DIM}).astype(np.float32)
        return v / np.linalg.norm(v)

    path, start = sys.argv[1], int(sys.argv[2])
    index = Index.open(path, writable=True)
    print("ready", flush=True)
    n = start
    while True:
        ids = list(range(n, n + {BATCH}))
        index.add([f"text {{i}}" for i in ids], [str(i) for i in ids], [{{"batch": n // {BATCH}}} for i in ids],
                  vectors=np.stack([vector(i) for i in ids]), fingerprint="crash")
        n += {BATCH}
        if n % ({BATCH} * 3) == 0:  # now and then rewrite an old batch, so upserts are killed too
            old = list(range(n - 2 * {BATCH}, n - {BATCH}))
            index.add([f"text {{i}}" for i in old], [str(i) for i in old], [{{"batch": -1}} for i in old],
                      vectors=np.stack([vector(i) for i in old]), fingerprint="crash", upsert=True)
    """
)


def expected_vector(i: int) -> np.ndarray:
    v = np.random.default_rng(i).normal(size=DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def rewritten(batch: int) -> bool:
    """Whether the writer's upserts ever rewrite this batch: after adding the batch that ends at a multiple of
    3 batches, it rewrites the one before the last (so batches 1, 4, 7, ...)."""
    return batch % 3 == 1


def verify(path, before: dict[int, str], *, every_vector: bool = False) -> dict[int, str]:
    """Check the index after a kill; returns {batch: "original" or "rewritten"} for the batches it holds. The
    vectors checked are those of batches written or rewritten since `before`, 5 others at random, or all."""
    problems = [p for p in check_index(path) if "behind" not in p and "stale" not in p]
    assert problems == []
    index = Index.open(path)
    held: dict[int, str] = {}
    batch = 0
    while True:  # batches are written in order: those held are 0, 1, ..., then none (two checked past the end)
        hits = [index.get(str(i)) for i in range(batch * BATCH, (batch + 1) * BATCH)]
        present = [hit is not None for hit in hits]
        assert all(present) or not any(present), f"batch {batch}: {sum(present)} of {BATCH} documents"
        if not any(present):
            after = [index.get(str(i)) for i in range((batch + 1) * BATCH, (batch + 3) * BATCH)]
            assert after == [None] * len(after), f"documents after the missing batch {batch}"
            break
        assert [hit.text for hit in hits] == [f"text {i}" for i in range(batch * BATCH, (batch + 1) * BATCH)]
        marks = {hit.metadata["batch"] for hit in hits}
        allowed = [{batch}, {-1}] if rewritten(batch) else [{batch}]
        assert marks in allowed, f"batch {batch}: metadata batch={sorted(marks)}, expected one of {allowed}"
        held[batch] = "rewritten" if marks == {-1} else "original"
        batch += 1
    assert len(index) == len(held) * BATCH
    for old, state in before.items():  # nothing committed is lost, and a rewrite is never undone
        assert old in held and (state == "original" or held[old] == "rewritten"), f"batch {old} was {state}"

    count = len(index)
    sample = random.Random(count).sample(range(count), min(5, count))
    changed = [b for b, state in held.items() if before.get(b) != state]
    checked = (
        range(count)
        if every_vector
        else sorted({*sample, *(i for b in changed for i in range(b * BATCH, (b + 1) * BATCH))})
    )
    for doc_id in checked:  # each stored vector is the one written: exact search finds it at cosine 1
        (hit,) = index.search(expected_vector(doc_id), 1, exact=True, include=())
        assert hit.id == str(doc_id) and hit.score == pytest.approx(1.0, abs=1e-5), (doc_id, hit)
    for doc_id in sample:  # and so does the ANN
        assert index.search(expected_vector(doc_id), 1)[0].id == str(doc_id)
    index.close()
    return held


def test_sigkill_during_adds_leaves_all_or_none_of_each_batch(tmp_path):
    path = tmp_path / "idx"
    Index.create(path, model=None, dim=DIM, fingerprint="crash", ann_params={"flat_below": 0, "m": 8}).close()
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    rng = random.Random(7)
    held: dict[int, str] = {}
    for kill in range(30):
        start = len(held) * BATCH
        child = subprocess.Popen(
            [sys.executable, str(script), str(path), str(start)], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.25))
        child.send_signal(signal.SIGKILL)
        child.wait()
        held = verify(path, held, every_vector=kill == 29)
        print("documents after kill:", len(held) * BATCH, "rewritten batches:", list(held.values()).count("rewritten"))
    assert "rewritten" in held.values()  # the writers got as far as upserts, so the checks above covered them
