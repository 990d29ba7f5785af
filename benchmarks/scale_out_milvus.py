"""Milvus store benchmark: emberta's index in Milvus Lite against emberta's local index, on the corpus of the search
benchmark (benchmarks/search.py: real texts from ../shared/datasets with source, label, language and length), in
one run.

Both hold the same unit vectors under HNSW (M 32, efConstruction 200). For each, unfiltered and with the search
benchmark's filters (about 50%, 5% and 0.5% of the documents pass), and at a few HNSW breadths (ef), it measures
recall@10 against exact search with the same filter, and queries/s (one query per call through the public
`search`, ids and scores only, vectors precomputed, sequential). It prints the table and the ratios Milvus Lite /
local, and writes JSON with the machine, versions and command.

Vectors come from the embedding cache (`emberta.cache`); texts not cached are encoded once with the default model,
which takes long on a busy machine: --n sets the corpus size (the search benchmark uses 100,000).

    .venv/bin/python benchmarks/scale_out_milvus.py [--n 100000] [--queries 200] [--ef 32,64,128]
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections import Counter
from importlib.metadata import version
from pathlib import Path

import numpy as np

from common import parser as benchmark_parser
from search import K, build_corpus, emberta_filter, exact_truth, filter_mask, measure, pick_filters

FIELDS = {"source": "text", "label": "text", "lang": "text", "length": "number"}
BLOCK = 5_000


def build(kind: str, folder: Path, vectors: np.ndarray, texts: list[str], attrs: list[dict]):
    """The index of `kind` ("local" or "milvus-lite") holding every document; returns (index, build seconds)."""
    from emberta.index import Index, MilvusIndex

    start = time.perf_counter()
    dim, fingerprint = vectors.shape[1], "bench"
    if kind == "local":
        index = Index.create(folder / "local", model=None, dim=dim, fingerprint=fingerprint,
                             ann_params={"m": 32, "ef_construction": 200})  # fmt: skip
    else:
        index = MilvusIndex.create(str(folder / "milvus.db"), "bench", model=None, dim=dim, fingerprint=fingerprint,
                                   fields=FIELDS, ann="hnsw")  # fmt: skip
    for s in range(0, len(texts), BLOCK):
        rows = range(s, min(s + BLOCK, len(texts)))
        index.add([texts[i] for i in rows], [str(i) for i in rows], [attrs[i] for i in rows],
                  vectors=vectors[s : rows.stop], fingerprint=fingerprint, save_ann=False)  # fmt: skip
    index.flush()
    if kind == "milvus-lite":
        index.search(vectors[0], K)  # Milvus Lite builds its HNSW graph on first search after writes
    return index, time.perf_counter() - start


def run_system(kind, index, queries, truths, filters, efs, log) -> None:
    for f in [None, *filters]:
        expression = emberta_filter(f) if f else None
        name = f["name"] if f else "unfiltered"
        for ef in efs:

            def search(i, q, ef=ef, expression=expression):
                return [int(h.id) for h in index.search(q, K, ef=ef, filter=expression, include=())]

            log({"system": kind, "filter": name, "ef": ef, **measure(search, queries, truths[name])})


def summarise(rows: list[dict], filters: list[dict], efs: list[int], documents: int) -> list[dict]:
    """Print the table of Milvus Lite against the local index, setting by setting; return its rows."""
    print(f"\n== Milvus Lite / local index, same vectors, same HNSW settings, k = {K} ({documents} documents)")
    print(f"{'filter':>10} {'ef':>4} | {'recall local':>12} {'recall milvus':>13} | {'q/s local':>9} "
          f"{'q/s milvus':>10} {'ratio':>6}")  # fmt: skip
    table = []
    for name in ["unfiltered", *(f["name"] for f in filters)]:
        for ef in efs:
            ours, theirs = (next(r for r in rows if r["system"] == s and r["filter"] == name and r["ef"] == ef)
                            for s in ("local", "milvus-lite"))  # fmt: skip
            ratio = theirs["qps"] / ours["qps"]
            table.append({"filter": name, "ef": ef, "recall_local": ours["recall"],
                          "recall_milvus": theirs["recall"], "qps_local": ours["qps"], "qps_milvus": theirs["qps"],
                          "milvus_over_local": ratio})  # fmt: skip
            print(f"{name:>10} {ef:>4} | {ours['recall']:12.3f} {theirs['recall']:13.3f} | {ours['qps']:9.1f} "
                  f"{theirs['qps']:10.1f} {ratio:5.2f}x")  # fmt: skip
    return table


def machine() -> dict:
    return {"platform": platform.platform(), "python": sys.version.split()[0], "cpus": os.cpu_count(),
            "load_average": os.getloadavg()}  # fmt: skip


def versions() -> dict:
    names = ("emberta", "pymilvus", "milvus-lite", "faiss-cpu", "numpy")
    return {name: version(name) for name in names}


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--ef", default="32,64,128", help="HNSW search breadths, comma-separated")
    parser.add_argument("--out", type=Path, default=Path("results/scale-out-milvus.json"))
    args = parser.parse_args()
    efs = [int(e) for e in args.ef.split(",")]

    from emberta import load_encoder
    from emberta.cache import EmbeddingStore

    texts, attrs, query_texts = build_corpus(args.data_dir, args.n)
    query_texts = [query_texts[i] for i in np.random.default_rng(1).permutation(len(query_texts))[: args.queries]]
    print(f"corpus: {len(texts)} texts; sources: {dict(Counter(a['source'] for a in attrs).most_common())}")
    start = time.perf_counter()
    with EmbeddingStore.default() as store:
        encoder = load_encoder("default")
        vectors = store.encode(encoder, texts, batch_size=64)
        queries = store.encode(encoder, query_texts, batch_size=64)
    print(f"vectors: {vectors.shape} in {time.perf_counter() - start:.0f} s (cached after the first run)")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    filters = pick_filters(attrs)
    truths = {"unfiltered": exact_truth(vectors, queries, None)}
    for f in filters:
        truths[f["name"]] = exact_truth(vectors, queries, filter_mask(attrs, f))
        print(f"filter {f['name']}: {emberta_filter(f)} passes {100 * f['selectivity']:.2f}%")

    rows: list[dict] = []
    builds: dict[str, float] = {}

    def log(row: dict) -> None:
        rows.append(row)
        print(json.dumps(row))

    folder = Path(tempfile.mkdtemp(prefix="emberta-milvus-bench-"))
    try:
        for kind in ("local", "milvus-lite"):
            index, builds[kind] = build(kind, folder, vectors, texts, attrs)
            print(f"{kind}: built in {builds[kind]:.1f} s")
            run_system(kind, index, queries, truths, filters, efs, log)
            index.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    table = summarise(rows, filters, efs, len(texts))
    print(f"build seconds: {builds}")
    result = {"command": " ".join(sys.argv), "machine": machine(), "versions": versions(),
              "documents": len(texts), "queries": len(queries), "filters": filters, "build_seconds": builds,
              "rows": rows, "table": table}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}; load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
