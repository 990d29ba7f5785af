"""Crash campaign: SIGKILL an index writer many times and prove that nothing acknowledged is lost.

A writer process (crash_writer.py) runs random batches of add, upsert, delete and compaction on one index,
logging each batch before it starts and acknowledging it (fsync'ed) after it returns. The parent kills it at a
random moment, or lets it kill itself at a named point of the write path (EMBERTA_CRASH_POINT, see
emberta/index/crashpoints.py). After each kill it reopens the index, runs `emberta index check`'s check_index,
and compares every document (id, text, metadata) with the log: every acknowledged batch present, the one
unacknowledged batch all or nothing, and the vectors of the changed documents found at cosine 1.

Then the same for `emberta encode --out` and for training checkpoints (crash_jobs.py), with fewer kills.

    .venv/bin/python benchmarks/crash.py [--kills 1000] [--seed S] [--jobs index,encode,train]
                                         [--job-kills 20] [--json PATH] [--work DIR]
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import crash_writer as writer
from common import parser as benchmark_parser
from emberta.index import Index
from emberta.index.crashpoints import ENV, WRITE_POINTS
from emberta.index.maintenance import check_index

HERE = Path(__file__).resolve().parent
BENIGN = ("behind", "stale")  # what check_index reports after a kill that the next open or write catches up


def spawn(work: Path, kill: int, point: str | None, seed: int) -> subprocess.Popen:
    """A writer child, started ahead of time: it imports, prints "ready" and waits for a line on stdin."""
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if point:
        env[ENV] = point
    args = [sys.executable, str(HERE / "crash_writer.py"), str(work / "idx"), str(work / "state.json"),
            str(work / f"log-{kill}.jsonl"), str(seed)]  # fmt: skip
    child = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    return child


def read_log(path: Path) -> tuple[list[dict], dict | None]:
    """(acknowledged batches, the batch in flight or None) from a killed writer's log; a torn last line (the
    writer killed while logging) counts as not written."""
    intents, acked = {}, set()
    for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "intent" in record:
            intents[record["intent"]["batch"]] = record["intent"]
        else:
            acked.add(record["ack"])
    done = [intents[b] for b in sorted(acked)]
    pending = [b for b in intents if b not in acked]
    return done, intents[pending[0]] if pending else None


def actual_documents(index: Index) -> dict[str, tuple[str, dict]]:
    """{id: (text, metadata)} of every document the open `index` holds."""
    held = {}
    for doc_id in index.snapshot(0).ids:
        if doc_id is not None:
            hit = index.get(doc_id)
            held[doc_id] = (hit.text, hit.metadata)
    return held


def vectors_ok(index: Index, docs: dict[str, int], changed: set[str], rng: random.Random) -> tuple[int, int]:
    """(exact misses, ANN misses): documents among `changed` (at most 100) and 5 others whose stored vector is not
    found at cosine 1 by an exact search, and a sample of 5 not found first by the ANN."""
    ids = sorted(docs)
    sample = rng.sample(ids, min(5, len(ids)))
    checked = set(rng.sample(sorted(changed & set(ids)), min(100, len(changed & set(ids))))) | set(sample)
    exact = ann = 0
    for doc_id in checked:
        vector = writer.vector_of(writer.text_of(doc_id, docs[doc_id]))
        (hit,) = index.search(vector, 1, exact=True, include=())
        exact += hit.id != doc_id or abs(hit.score - 1.0) > 1e-4
    for doc_id in sample:
        ann += index.search(writer.vector_of(writer.text_of(doc_id, docs[doc_id])), 1, include=())[0].id != doc_id
    return exact, ann


def verify(work: Path, docs: dict[str, int], log: Path, rng: random.Random) -> tuple[dict, dict[str, int]]:
    """Check the index after one kill against the log; returns (what was found, the documents now held)."""
    done, pending = read_log(log)
    acked = docs
    for batch in done:
        acked = writer.apply(acked, batch)
    with_pending = writer.apply(acked, pending) if pending else acked
    found = {"acked": len(done), "pending": pending["op"] if pending else None}
    try:
        problems = check_index(work / "idx")
        found["check_notes"] = sum(any(b in p for b in BENIGN) for p in problems)
        found["problems"] = [p for p in problems if not any(b in p for b in BENIGN)]
        with Index.open(work / "idx") as index:
            held = actual_documents(index)
            if held == writer.expected_documents(acked):
                now, found["outcome"] = acked, "not applied" if pending else "clean"
            elif held == writer.expected_documents(with_pending):
                now, found["outcome"] = with_pending, "applied"
            else:
                lost = [d for d in acked if d not in held and d in with_pending]
                found["outcome"] = "lost acknowledged" if lost else "partial"
                return found, docs
            changed = {d for b in [*done, pending] if b for d in b["ids"]}
            found["exact_misses"], found["ann_misses"] = vectors_ok(index, now, changed, rng)
    except Exception as exc:  # an index that does not reopen is what this campaign looks for
        found["outcome"], found["error"] = "corrupt", f"{type(exc).__name__}: {exc}"
        return found, docs
    return found, now


def kill_child(child: subprocess.Popen, point: str | None, delay: float, limit: float = 30.0) -> str:
    """Start the waiting child, then SIGKILL it after `delay` seconds, or let it kill itself at `point`
    (killed after `limit` seconds if it never gets there). Returns how it died."""
    child.stdin.write("go\n")
    child.stdin.flush()
    try:
        child.wait(timeout=limit if point else delay)
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGKILL)
        child.wait()
        return "timer" if not point else "point not reached"
    if child.returncode != -signal.SIGKILL:
        raise SystemExit(f"the writer exited with {child.returncode} instead of being killed")
    return "point" if point else "exited early"


def new_index(work: Path) -> None:
    """An empty index taking DIM-wide vectors (HNSW from the first vector, so the graph is what gets killed)."""
    Index.create(work / "idx", model=None, dim=writer.DIM, fingerprint=writer.FINGERPRINT,
                 ann_params={"flat_below": 0, "m": 8}).close()  # fmt: skip
    (work / "state.json").write_text(json.dumps({"docs": {}, "next": 0}))


def index_campaign(work: Path, kills: int, seed: int, max_delay: float = 0.4) -> dict:
    """Run `kills` kills of the index writer; returns the counts."""
    rng = random.Random(seed)
    new_index(work)
    docs: dict[str, int] = {}
    counts, outcomes, points, deaths = Counter(), Counter(), Counter(), Counter()
    failures: list[dict] = []

    def choose() -> str | None:
        return f"{rng.choice(WRITE_POINTS)}:{rng.randint(1, 3)}" if rng.random() < 0.35 else None

    point = choose()
    child = spawn(work, 0, point, rng.randrange(2**31))
    for kill in range(kills):
        assert child.stdout.readline().strip() == "ready"
        state = {"docs": docs, "next": max([b + 1 for b in docs.values()] + [counts["next"]])}
        (work / "state.json").write_text(json.dumps(state))
        death = kill_child(child, point, rng.uniform(0.0, max_delay))
        deaths[death] += 1
        points[point.split(":")[0] if point else "random"] += 1
        next_point = choose()
        child = spawn(work, kill + 1, next_point, rng.randrange(2**31))  # imports while this kill is checked
        found, docs = verify(work, docs, work / f"log-{kill}.jsonl", rng)
        done, pending = read_log(work / f"log-{kill}.jsonl")
        counts["next"] = max([counts["next"], *(b["batch"] + 1 for b in [*done, *([pending] if pending else [])])])
        (work / f"log-{kill}.jsonl").unlink(missing_ok=True)
        point = next_point
        outcomes[found["outcome"]] += 1
        counts["acknowledged"] += found["acked"]
        for key in ("check_notes", "exact_misses", "ann_misses"):
            counts[key] += found.get(key, 0)
        counts["check_problems"] += bool(found.get("problems"))
        if found["outcome"] in ("partial", "lost acknowledged", "corrupt") or found.get("problems"):
            failures.append({"kill": kill, "point": point, **found})
            print("FAILURE", failures[-1], flush=True)
            break
        if (kill + 1) % 50 == 0:
            print(f"  {kill + 1} kills, {len(docs)} documents, {counts['acknowledged']} batches acknowledged",
                  flush=True)  # fmt: skip
    child.kill()
    child.wait()
    done = sum(outcomes.values())
    survived = done - len(failures)
    litter = sorted(p.name for p in work.iterdir() if p.name.startswith(".idx."))
    return {"kills": done, "survived": survived, "acknowledged_batches_verified": counts["acknowledged"],
            "partial_batches": outcomes["partial"], "lost_acknowledged": outcomes["lost acknowledged"],
            "corrupt_reopens": outcomes["corrupt"] + counts["check_problems"],
            "unacknowledged_applied": outcomes["applied"], "unacknowledged_not_applied": outcomes["not applied"],
            "check_notes_benign": counts["check_notes"], "exact_vector_misses": counts["exact_misses"],
            "ann_top1_misses": counts["ann_misses"], "kills_by_point": dict(points), "deaths": dict(deaths),
            "documents_at_end": len(docs), "leftover_staging": litter, "failures": failures}  # fmt: skip


def report(name: str, result: dict) -> None:
    print(f"\n== {name}")
    for key, value in result.items():
        print(f"{key:32s} {value}")


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--kills", type=int, default=1000, help="kills of the index writer (default 1000)")
    parser.add_argument("--job-kills", type=int, default=20, help="kills of encode and of training (default 20)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", default="index,encode,train", help="which campaigns (default all three)")
    parser.add_argument("--json", type=Path, default=None, help="write the counts here as JSON")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp dir, removed)")
    args = parser.parse_args()
    jobs = args.jobs.split(",")
    work = Path(tempfile.mkdtemp(prefix="emberta-crash-")) if args.work is None else args.work
    results = {"machine": {"nproc": os.cpu_count(), "python": sys.version.split()[0]}, "seed": args.seed}
    start = time.perf_counter()
    try:
        if "index" in jobs:
            (work / "index").mkdir(parents=True, exist_ok=True)
            results["index"] = index_campaign(work / "index", args.kills, args.seed)
            report("index writer", results["index"])
        if {"encode", "train"} & set(jobs):
            import crash_jobs

            for job in ("encode", "train"):
                if job in jobs:
                    results[job] = crash_jobs.CAMPAIGNS[job](work / job, args.job_kills, args.seed, args.data_dir)
                    report(f"{job} (killed {args.job_kills} times)", results[job])
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    results["seconds"] = round(time.perf_counter() - start, 1)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    ratios = []
    for job in ("index", "encode", "train"):
        if job in results:
            r = results[job]
            ratios.append(f"{job} survived {r['survived']}/{r['kills']}")
    extra = ""
    if "index" in results:
        r = results["index"]
        extra = (f"; acknowledged batches verified {r['acknowledged_batches_verified']}, partial "
                 f"{r['partial_batches']}, corrupt reopens {r['corrupt_reopens']}")  # fmt: skip
    print(f"\n{'; '.join(ratios)}{extra} ({results['seconds']} s)")


if __name__ == "__main__":
    main()
