"""`emberta index migrate` on a large index while a reader keeps searching it: the count of failed or empty
answers (goal: zero), recall@10 of the answers over time against the migrated index's exact answers, and the
migration's total time against a plain rebuild of the same documents with the new model, in the same run.

The documents are the first --documents distinct texts of at most 300 characters of the shared datasets
(shuffled, seed 0); the old index is built with --old (default: the static model that benchmarks/align.py
distils, 256 dimensions) and migrated to --new (default: the 3-layer student benchmarks/align.py trains, 384
dimensions) with an adapter fitted on 5,000 of its documents. A separate
reader process opened before the migration searches the index in a loop (text queries: 200 other texts) and
logs every answer.

    .venv/bin/python benchmarks/migrate.py [--documents 100000] [--old static:DIR] [--new default] [--json FILE]
"""

from __future__ import annotations

import gzip
import json
import multiprocessing
import os
import platform
import random
import shutil
import time
from pathlib import Path

import emberta
from common import parser as benchmark_parser
from emberta.index import Index
from emberta.index.maintenance import build_index
from emberta.index.migrate import migrate_index
from emberta.io.readers import TextReader


def texts_of(data: Path, count: int, longest: int = 300) -> list[str]:
    """`count` distinct texts of at most `longest` characters from every JSONL file of the shared datasets,
    shuffled with seed 0."""
    found: dict[str, None] = {}
    for file in sorted(data.glob("**/*.jsonl*")):
        opener = gzip.open if file.name.endswith(".gz") else open
        with opener(file, "rt", encoding="utf-8") as handle:
            for line in handle:
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if isinstance(row, dict):
                    for key in ("text", "sentence1", "sentence2", "title", "query"):
                        text = row.get(key)
                        if isinstance(text, str) and text.strip() and len(text) <= longest:
                            found.setdefault(text.strip())
    texts = list(found)
    random.Random(0).shuffle(texts)
    return texts[:count]


def reader(path: str, queries: list[str], log: str, stop: str) -> None:
    """Search `path` in a loop until the file `stop` exists; one JSON line per answer."""
    index = Index.open(path)
    with open(log, "w") as out:
        number = 0
        while not os.path.exists(stop):
            query = number % len(queries)
            started = time.time()
            try:
                hits, error = [h.id for h in index.search(queries[query], 10)], None
            except Exception as exc:  # every failure is counted, none stops the loop
                hits, error = [], f"{type(exc).__name__}: {exc}"
            record = {"t": started, "seconds": time.time() - started, "query": query, "ids": hits,
                      "migrating": index.migration is not None, "fingerprint": index.config["fingerprint"],
                      "error": error}  # fmt: skip
            out.write(json.dumps(record) + "\n")
            number += 1


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--old", default="static:build/align-models/static")
    parser.add_argument("--new", default="build/align-models/student")
    parser.add_argument("--work", type=Path, default=Path("build/migrate-bench"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    texts = texts_of(args.data_dir, args.documents + 200)
    docs, queries = texts[: args.documents], texts[args.documents :]
    source = args.work / "docs.jsonl"
    source.write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(docs)))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; emberta "
          f"{emberta.__version__}; {len(docs)} documents", flush=True)  # fmt: skip
    old, rebuilt = args.work / "index", args.work / "rebuilt"
    timed = {}
    for name, path, model in (("old build", old, args.old), ("plain rebuild", rebuilt, args.new)):
        started = time.perf_counter()
        with TextReader(source, id_field="id") as records:
            build_index(records, path, model=model)
        timed[name] = time.perf_counter() - started
        print(f"{name} with {model}: {timed[name]:.0f} s", flush=True)
    log, stop = args.work / "answers.jsonl", args.work / "stop"
    process = multiprocessing.get_context("spawn").Process(target=reader, args=(str(old), queries, str(log), str(stop)))
    process.start()
    time.sleep(20)  # the reader loads its model and answers with the old one first
    moments = {"start": time.time()}
    started = time.perf_counter()
    migrate_index(old, args.new, fit_on=5000, on_start=lambda _: moments.setdefault("adapter", time.time()))
    timed["migration"] = time.perf_counter() - started
    moments["swapped"] = time.time()
    time.sleep(10)  # the reader follows the swap
    stop.touch()
    process.join()
    report = analyse(old, queries, log, moments, timed)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


def analyse(path: Path, queries: list[str], log: Path, moments: dict, timed: dict) -> dict:
    """Failures, empty answers and recall@10 against the migrated index's exact answers, by phase and over time."""
    with Index.open(path) as index:
        truth = [{h.id for h in index.search(q, 10, exact=True)} for q in queries]
    answers = [json.loads(line) for line in log.read_text().splitlines()]
    old_fingerprint = answers[0]["fingerprint"]
    phases = {"old model (before)": lambda a: a["fingerprint"] == old_fingerprint and not a["migrating"],
              "adapter (migrating)": lambda a: a["migrating"],
              "new model (after the swap)": lambda a: a["fingerprint"] != old_fingerprint}  # fmt: skip
    by_phase = {}
    for name, belongs in phases.items():
        chosen = [a for a in answers if belongs(a) and not a["error"]]
        recall = [len(truth[a["query"]] & set(a["ids"])) / 10 for a in chosen]
        by_phase[name] = {"answers": len(chosen), "recall_at_10": sum(recall) / max(len(recall), 1),
                          "median_ms": 1000 * sorted(a["seconds"] for a in chosen)[len(chosen) // 2] if chosen
                          else None}  # fmt: skip
    span = moments["swapped"] - moments["start"]
    timeline = []
    for tenth in range(10):
        low, high = moments["start"] + span * tenth / 10, moments["start"] + span * (tenth + 1) / 10
        chosen = [a for a in answers if low <= a["t"] < high and not a["error"]]
        recall = [len(truth[a["query"]] & set(a["ids"])) / 10 for a in chosen]
        timeline.append(round(sum(recall) / max(len(recall), 1), 3))
    return {
        "answers": len(answers),
        "failed": sum(1 for a in answers if a["error"]),
        "empty": sum(1 for a in answers if not a["error"] and not a["ids"]),
        "errors": sorted({a["error"] for a in answers if a["error"]})[:5],
        "seconds": timed,
        "migration_over_rebuild": timed["migration"] / timed["plain rebuild"],
        "adapter_ready_after_seconds": moments.get("adapter", moments["start"]) - moments["start"],
        "phases": by_phase,
        "recall_at_10_by_tenth_of_the_migration": timeline,
    }


if __name__ == "__main__":
    main()
