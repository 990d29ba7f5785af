"""Batched search: `Index.search_many` against raw FAISS batch search on the same HNSW graph at the same efSearch.

The corpus is real texts from ../shared/datasets (AG News, TweetEval, Banking77, STS and SciFact, deduplicated)
encoded with the default model on the ONNX backend through the embedding cache; queries are other real texts
(STS Benchmark test sentences) encoded the same way. emberta builds its index (HNSW, M 32, efConstruction 200,
no flat start); raw FAISS is that index's own FAISS object, searched directly with SearchParametersHNSW, so both
sides walk the same graph and the difference is emberta's own per-batch cost (request checks, query
normalization, snapshot, hit objects). Goal: overhead <= 15% at efSearch 32 for batches of 64 queries (ids
and scores only). Also printed: the same with texts and metadata read from SQLite, and one `Index.search` call
per query (what a batch saves).

    .venv/bin/python benchmarks/batch_search.py [--data-dir DIR] [--n 20000] [--batch 64] [--ef 32] [--rounds 200]
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time

import numpy as np

from common import parser as benchmark_parser

SOURCES = [
    ("agnews_clustering/test.jsonl.gz", "text_p2p"),
    ("tweeteval_sentiment/train.jsonl", "text"),
    ("tweeteval_emotion/train.jsonl", "text"),
    ("banking77/train.jsonl", "text"),
    ("stsbenchmark/train.jsonl", "sentence1"),
    ("stsbenchmark/train.jsonl", "sentence2"),
    ("scifact/corpus.jsonl.gz", "text"),
]
GOAL = 0.15


def corpus_texts(data_dir, n: int) -> list[str]:
    import emberta

    seen: dict[str, None] = {}
    for name, field in SOURCES:
        path = data_dir / name
        if path.is_file():
            for text in emberta.read_texts(path, field=field):
                seen.setdefault(text)
                if len(seen) == n:
                    return list(seen)
    return list(seen)


def timed(run, rounds: int) -> float:
    """Median seconds of `rounds` calls after 5 warm-up calls."""
    for _ in range(5):
        run()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--ef", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    import faiss

    import emberta
    from emberta.cache import open_store
    from emberta.index import Index

    encoder = emberta.load_encoder("default", backend="onnx")
    texts = corpus_texts(args.data_dir, args.n)
    queries_text = emberta.read_texts(args.data_dir / "stsbenchmark/test.jsonl", field="sentence1")[: args.batch]
    with open_store(True) as store:
        vectors = store.encode(encoder, texts)
        queries = store.encode(encoder, queries_text)
    versions = f"faiss {faiss.__version__}, emberta {emberta.__version__}"
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, {versions}")
    print(f"corpus {len(texts)} real texts, {args.batch} queries per batch, k=10, efSearch {args.ef}")
    with tempfile.TemporaryDirectory() as folder:
        index = Index.create(f"{folder}/idx", model=None, dim=vectors.shape[1], fingerprint="bench",
                             ann_params={"flat_below": 0})  # fmt: skip
        index.add(texts, [f"d{i}" for i in range(len(texts))], [{"n": i % 10} for i in range(len(texts))],
                  vectors=vectors, fingerprint="bench")  # fmt: skip
        graph = index.snapshot().ann.index
        params = faiss.SearchParametersHNSW(efSearch=args.ef)
        matrix = np.ascontiguousarray(queries, dtype=np.float32)
        _, raw_slots = graph.search(matrix, 10, params=params)
        ours = index.search_many(matrix, 10, ef=args.ef, include=())
        agree = np.mean(
            [[h.id for h in hits] == [f"d{s}" for s in row] for hits, row in zip(ours, raw_slots, strict=True)]
        )
        rows = {
            "raw FAISS batch search": lambda: graph.search(matrix, 10, params=params),
            "emberta search_many (ids, scores)": lambda: index.search_many(matrix, 10, ef=args.ef, include=()),
            "emberta search_many (+ texts, metadata)": lambda: index.search_many(matrix, 10, ef=args.ef),
            "emberta search, one call per query": lambda: [index.search(q, 10, ef=args.ef, include=()) for q in matrix],
        }
        seconds = {name: timed(run, args.rounds) for name, run in rows.items()}
        index.close()
    base = seconds["raw FAISS batch search"]
    print(f"same results as raw FAISS: {agree:.0%} of queries\n")
    print(f"{'':42} {'ms / batch':>10} {'us / query':>10} {'vs FAISS':>9}")
    for name, value in seconds.items():
        print(f"{name:42} {value * 1e3:10.3f} {value / args.batch * 1e6:10.1f} {value / base:8.2f}x")
    overhead = seconds["emberta search_many (ids, scores)"] / base - 1
    verdict = "met" if overhead <= GOAL else "NOT met"
    print(f"\nemberta overhead over raw FAISS: {overhead:+.1%} (goal <= {GOAL:.0%}): {verdict}")


if __name__ == "__main__":
    main()
