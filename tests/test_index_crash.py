"""A writer killed with SIGKILL at any moment of an add leaves an index that opens consistent, holding all or
none of the batch it was writing. Real subprocesses, killed many times at random moments."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from emberta.index import Index
from emberta.index.crashpoints import ENV, WRITE_POINTS, parse
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


# ---- one kill at each named point of the write path (emberta/index/crashpoints.py) -----------------------------
POINT_WRITER = textwrap.dedent(
    f"""
    import json, os, sys
    import numpy as np
    from emberta.index import Index
    from emberta.index.maintenance import compact_index

    def vector(text):
        v = np.random.default_rng(sum(text.encode())).normal(size={DIM}).astype(np.float32)
        return v / np.linalg.norm(v)

    path, log = sys.argv[1], open(sys.argv[2], "a")
    index = Index.open(path, writable=True)
    for batch in json.loads(sys.argv[3]):
        log.write(json.dumps({{"intent": batch}}) + "\\n"); log.flush(); os.fsync(log.fileno())
        if batch["op"] == "delete":
            index.delete(batch["ids"])
        elif batch["op"] == "compact":
            index.close(); compact_index(path); index = Index.open(path, writable=True)
        else:
            texts = [f"{{i}} v{{batch['v']}}" for i in batch["ids"]]
            index.add(texts, batch["ids"], [{{"v": batch["v"]}}] * len(texts), upsert=batch["op"] == "upsert",
                      vectors=np.stack([vector(t) for t in texts]), fingerprint="crash")
        log.write(json.dumps({{"ack": batch["v"]}}) + "\\n"); log.flush(); os.fsync(log.fileno())
    """
)
# add, upsert (old and new ids), delete, compact: every point is passed at least once, the write points first
BATCHES = [
    {"op": "add", "v": 1, "ids": [f"n{i}" for i in range(30)]},
    {"op": "upsert", "v": 2, "ids": [f"a{i}" for i in range(10)] + ["n40", "n41"]},
    {"op": "delete", "v": 3, "ids": [f"a{i}" for i in range(10, 20)]},
    {"op": "compact", "v": 4, "ids": []},
]


def replay(docs: dict[str, int], batch: dict) -> dict[str, int]:
    after = dict(docs)
    for doc_id in batch["ids"]:
        if batch["op"] == "delete":
            after.pop(doc_id, None)
        else:
            after[doc_id] = batch["v"]
    return after


def held_documents(path) -> dict[str, int]:
    """{id: version} of the documents in the index, each text and vector checked against its version."""
    with Index.open(path) as index:
        held = {}
        for doc_id in [i for i in index.snapshot(0).ids if i is not None]:
            hit = index.get(doc_id)
            version = hit.metadata["v"]
            assert hit.text == f"{doc_id} v{version}"
            vector = np.random.default_rng(sum(hit.text.encode())).normal(size=DIM).astype(np.float32)
            (found,) = index.search(vector / np.linalg.norm(vector), 1, exact=True, include=())
            assert found.score == pytest.approx(1.0, abs=1e-5)
            held[doc_id] = version
        return held


@pytest.fixture(scope="module")
def base_index(tmp_path_factory):
    """An index of 20 documents ("a0".."a19", version 0), copied by each crash-point test."""
    path = tmp_path_factory.mktemp("base") / "idx"
    with Index.create(path, model=None, dim=DIM, fingerprint="crash", ann_params={"flat_below": 0, "m": 8}) as index:
        texts = [f"a{i} v0" for i in range(20)]
        vectors = [np.random.default_rng(sum(t.encode())).normal(size=DIM) for t in texts]
        index.add(texts, [f"a{i}" for i in range(20)], [{"v": 0}] * 20, vectors=np.stack(vectors), fingerprint="crash")
    return path


@pytest.mark.parametrize("point", WRITE_POINTS)
def test_a_writer_killed_at_each_crash_point_loses_nothing_acknowledged(base_index, tmp_path, point):
    import os
    import shutil

    path = tmp_path / "idx"
    shutil.copytree(base_index, path)
    script, log = tmp_path / "writer.py", tmp_path / "log.jsonl"
    script.write_text(POINT_WRITER)
    env = {**os.environ, ENV: point}
    done = subprocess.run([sys.executable, str(script), str(path), str(log), json.dumps(BATCHES)], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == -signal.SIGKILL, f"the writer never reached {point}: {done.stderr[-500:]}"
    acked, pending = set(), None
    for record in map(json.loads, log.read_text().splitlines()):
        if "ack" in record:
            acked.add(record["ack"])
        pending = record.get("intent", pending)
    expected = {f"a{i}": 0 for i in range(20)}
    for batch in BATCHES:
        if batch["v"] in acked:
            expected = replay(expected, batch)
    assert pending is not None and pending["v"] not in acked
    problems = [p for p in check_index(path) if "behind" not in p and "stale" not in p]
    assert problems == []
    assert held_documents(path) in (expected, replay(expected, pending)), "a batch was torn or an ack lost"


def test_crash_point_settings_are_checked():
    assert parse(None) is None and parse("committed") == ("committed", 1)
    assert parse("ann-written:3") == ("ann-written", 3)
    with pytest.raises(ValueError, match="unknown point"):
        parse("comitted")
    with pytest.raises(ValueError, match="at least 1"):
        parse("committed:0")


def test_a_compaction_killed_between_its_two_renames_leaves_the_index_openable(tmp_path):
    """replace_dir moves the old folder to .NAME.old, then the new one in: a kill in between left no index at all
    (and the next compaction deleted both folders)."""
    import os

    path = tmp_path / "idx"
    with Index.create(path, model=None, dim=DIM, fingerprint="crash") as index:
        index.add(["a", "b"], ["1", "2"], vectors=np.stack([expected_vector(1), expected_vector(2)]),
                  fingerprint="crash")  # fmt: skip
        index.delete(["1"])
    os.replace(path, tmp_path / ".idx.old")  # the state a kill between the renames leaves
    assert check_index(path) == []
    with Index.open(path) as index:
        assert index.get("2").text == "b" and index.get("1") is None


# ---- readers racing a writer (found by benchmarks/concurrency.py) ----------------------------------------------
def small_index(path, n: int = 10) -> Index:
    index = Index.create(path, model=None, dim=DIM, fingerprint="crash", ann_params={"flat_below": 0, "m": 8})
    index.add([f"text {i}" for i in range(n)], [str(i) for i in range(n)],
              vectors=np.stack([expected_vector(i) for i in range(n)]), fingerprint="crash")  # fmt: skip
    return index


def test_a_reader_opening_between_the_first_commit_and_the_first_ann_save_can_search(tmp_path):
    """The ANN file did not exist until the first batch's save: a reader opening in between failed with "the ANN
    file is missing". It exists from creation now, and the reader catches up from the vectors."""
    path = tmp_path / "idx"
    writer = Index.create(path, model=None, dim=DIM, fingerprint="crash")
    writer.add(
        ["a", "b"],
        ["1", "2"],
        vectors=np.stack([expected_vector(1), expected_vector(2)]),
        fingerprint="crash",
        save_ann=False,  # committed, the ANN not saved yet
    )
    with Index.open(path) as reader:
        assert reader.search(expected_vector(2), 1, include=())[0].id == "2"
    writer.close()


def test_a_reader_that_loads_an_ann_saved_after_it_read_the_slot_count_follows_the_newer_commit(tmp_path):
    """Another writer may commit and save its ANN file between a reader's reading the slot count and its loading
    the file: the file then holds more vectors than the count, which is not damage (it raised "holds N vectors
    but the index has M; run emberta index repair")."""
    from emberta.index.ann import AnnSpec
    from emberta.index.documents import DocumentStore
    from emberta.index.state import IndexState
    from emberta.index.vector_file import VectorFile

    path = tmp_path / "idx"
    small_index(path, 10).close()
    store = DocumentStore(path / "docs.sqlite")
    stale = 10
    with Index.open(path, writable=True) as writer:  # the other writer's commit and ANN save
        writer.add(["x", "y"], ["10", "11"], vectors=np.stack([expected_vector(10), expected_vector(11)]),
                   fingerprint="crash")  # fmt: skip

    class SlotsReadBeforeTheCommit:
        """The store as the reader saw it: its first read of the slot count came before the writer's commit."""

        def __getattr__(self, name):
            return getattr(store, name)

        @property
        def slots(self):
            nonlocal stale
            seen, stale = stale or store.slots, 0
            return seen

    spec = AnnSpec(**json.loads((path / "index.json").read_text())["ann"])
    state = IndexState(path, SlotsReadBeforeTheCommit(), VectorFile(path / "vectors.f32", DIM), spec, DIM)
    state.refresh()
    assert state.slots == 12 and state.ann.ntotal == 12
    assert state.snapshot().ids[11] == "11"
    store.close()


def test_a_search_with_metadata_right_after_another_process_upserts_returns_every_hit(tmp_path):
    path = tmp_path / "idx"
    writer = small_index(path, 5)
    with Index.open(path) as reader:
        assert len(reader.search(expected_vector(0), 5, exact=True)) == 5  # the reader's snapshot
        writer.add(["A", "B"], ["0", "1"], vectors=np.stack([expected_vector(0), expected_vector(1)]),
                   fingerprint="crash", upsert=True)  # fmt: skip
        assert len(reader.search(expected_vector(0), 5, exact=True, include=())) == 5
        assert len(reader.search(expected_vector(0), 5, exact=True)) == 5  # 3: documents 0 and 1 went missing
    writer.close()
