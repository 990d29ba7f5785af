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


def verify(path) -> int:
    problems = [p for p in check_index(path) if "behind" not in p and "stale" not in p]
    assert problems == []
    index = Index.open(path)
    ids = sorted(int(i) for (i,) in index.store.conn.execute("SELECT id FROM documents"))
    assert len(ids) % BATCH == 0, f"{len(ids)} documents: a batch was half-committed"
    assert ids == list(range(len(ids))), "documents missing or duplicated"
    rows = index.store.conn.execute("SELECT id, slot FROM documents").fetchall()
    view = np.asarray(index.vectors.view(index.slots))
    for doc_id, slot in rows:
        np.testing.assert_allclose(view[slot], expected_vector(int(doc_id)), atol=1e-6)
    for doc_id in random.Random(len(ids)).sample(ids, min(5, len(ids))):
        assert index.search(expected_vector(doc_id), 1)[0].id == str(doc_id)
    index.close()
    return len(ids)


def test_sigkill_during_adds_leaves_all_or_none_of_each_batch(tmp_path):
    path = tmp_path / "idx"
    Index.create(path, model=None, dim=DIM, fingerprint="crash", ann_params={"flat_below": 0, "m": 8}).close()
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    rng = random.Random(7)
    count = 0
    for _ in range(30):
        child = subprocess.Popen(
            [sys.executable, str(script), str(path), str(count)], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.25))
        child.send_signal(signal.SIGKILL)
        child.wait()
        count = verify(path)
        print("documents after kill:", count)
    assert count > 0
