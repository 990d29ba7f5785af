"""Search benchmark: emberta's index against raw FAISS HNSW (the floor), LanceDB and Chroma (embedded), on one
corpus of ~100k real texts from ../shared/datasets with real attributes (source dataset, label, language,
length), in one run.

For each system and setting it measures recall@10 against exact search (with the same filter) and queries/s
(one query per call, vectors precomputed, sequential), unfiltered and with filters passing about 50%, 5% and
0.5% of the documents, plus emberta's hybrid (BM25 + dense) search. It prints the table and the ratios the
issue asks for, writes JSON, and draws the recall/QPS curves.

    .venv/bin/pip install lancedb chromadb          # benchmark-only peers (the `search-bench` extra)
    .venv/bin/python benchmarks/search.py [--data-dir DIR] [--n 100000] [--queries 300]
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from common import parser as benchmark_parser

os.environ.setdefault("LANCE_LOG", "error")  # lance warns on every query about a future change of _distance
K = 10
EF_SWEEP = (16, 32, 64, 128, 256, 512)


# ---- the corpus --------------------------------------------------------------------------------------------
def _jsonl(path: Path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def build_corpus(data: Path, n: int):
    """(texts, attributes, query texts): unique texts with source, label, lang and length (characters)."""
    rows: list[tuple[str, str, str | None, str]] = []  # text, source, label, lang
    for name in ("scifact", "cacm", "cranfield"):
        corpus = next(p for p in (data / name).iterdir() if p.name.startswith("corpus"))
        rows += [((d.get("title", "") + " " + d.get("text", "")).strip(), name, None, "en") for d in _jsonl(corpus)]
    rows += [(d["text_p2p"], "agnews", d["label"], "en") for d in _jsonl(data / "agnews_clustering/test.jsonl.gz")]
    for name in ("banking77", "tweeteval_hate", "tweeteval_offensive", "tweeteval_sentiment", "tweeteval_emotion",
                 "tweeteval_irony"):  # fmt: skip
        for split in sorted((data / name).glob("*.jsonl")):
            rows += [(d["text"], name, str(d["label"]), "en") for d in _jsonl(split)]
    for name in ("stsbenchmark", "sts12", "mrpc"):
        for split in sorted((data / name).glob("*.jsonl")):
            rows += [(d[f], name, None, "en") for d in _jsonl(split) for f in ("sentence1", "sentence2")]
    for lang_dir in sorted((data / "stsb_multi_mt").iterdir()):
        if lang_dir.is_dir():
            for split in sorted(lang_dir.glob("*.jsonl")):
                rows += [
                    (d[f], "stsb_multi_mt", None, lang_dir.name)
                    for d in _jsonl(split)
                    for f in ("sentence1", "sentence2")
                ]
    for pair in sorted((data / "tatoeba").glob("*-eng.jsonl")):
        lang = pair.name.split("-")[0]
        rows += [(d["sentence1"], "tatoeba", None, lang) for d in _jsonl(pair)]
        rows += [(d["sentence2"], "tatoeba", None, "eng") for d in _jsonl(pair)]
    seen: set[str] = set()
    texts, attrs = [], []
    for text, source, label, lang in rows:
        if text and text not in seen:
            seen.add(text)
            texts.append(text)
            attrs.append({"source": source, "label": label or "none", "lang": lang, "length": len(text)})
    order = np.random.default_rng(0).permutation(len(texts))[:n]
    texts, attrs = [texts[i] for i in order], [attrs[i] for i in order]
    queries = [q["text"] for name in ("scifact", "cacm", "cranfield") for q in _jsonl(data / name / "queries.jsonl")]
    return texts, attrs, queries


def pick_filters(attrs: list[dict]) -> list[dict]:
    """Three filters with about 50%, 5% and 0.5% selectivity, each one field compared with one value, so that
    every system can express it. {name, field, op, value, selectivity}."""
    n = len(attrs)
    lengths = np.array([a["length"] for a in attrs])
    filters = [{"name": "50%", "field": "length", "op": ">=", "value": int(np.median(lengths))}]
    for name, target, field in (("5%", 0.05, "source"), ("0.5%", 0.005, "label")):
        counts = Counter(a[field] for a in attrs)
        value = min(counts, key=lambda v: abs(counts[v] / n - target))
        filters.append({"name": name, "field": field, "op": "=", "value": value})
    for f in filters:
        mask = filter_mask(attrs, f)
        f["selectivity"] = float(mask.mean())
    return filters


def filter_mask(attrs, f) -> np.ndarray:
    values = [a[f["field"]] for a in attrs]
    if f["op"] == ">=":
        return np.array([v >= f["value"] for v in values])
    return np.array([v == f["value"] for v in values])


def emberta_filter(f) -> str:
    value = f["value"] if isinstance(f["value"], int) else "'" + str(f["value"]).replace("'", "''") + "'"
    return f"{f['field']} {f['op']} {value}"


# ---- measuring ---------------------------------------------------------------------------------------------
def exact_truth(vectors: np.ndarray, queries: np.ndarray, mask: np.ndarray | None) -> list[set[int]]:
    scores = queries @ vectors.T
    if mask is not None:
        scores[:, ~mask] = -np.inf
    top = np.argsort(-scores, axis=1)[:, :K]
    return [{int(j) for j in row if np.isfinite(scores[i, j])} for i, row in enumerate(top)]


def measure(search, queries: np.ndarray, truth: list[set[int]], min_seconds: float = 1.0) -> dict:
    """search(i, query) -> list of row numbers. Recall over all queries; QPS over repeated passes."""
    results = [search(i, q) for i, q in enumerate(queries)]  # also warms up
    recall = float(np.mean([len(set(r) & t) / max(len(t), 1) for r, t in zip(results, truth, strict=True)]))
    short = sum(len(r) < min(K, len(t)) for r, t in zip(results, truth, strict=True))
    done, start = 0, time.perf_counter()
    while True:
        for i, q in enumerate(queries):
            search(i, q)
        done += len(queries)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return {"recall": recall, "qps": done / elapsed, "short_results": short}


# ---- systems -----------------------------------------------------------------------------------------------
def bench_faiss(vectors, queries, truths, filters, attrs, log):
    import faiss

    start = time.perf_counter()
    index = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 200
    index.add(vectors)
    log("faiss", "build_seconds", time.perf_counter() - start)
    for ef in EF_SWEEP:
        params = faiss.SearchParametersHNSW(efSearch=ef)
        r = measure(lambda i, q, p=params: index.search(q[None], K, params=p)[1][0].tolist(), queries, truths[None])
        log("faiss-hnsw", None, {"ef": ef, **r})


def bench_emberta(folder, vectors, texts, attrs, queries, query_texts, truths, filters, log):
    from emberta.index import Index

    start = time.perf_counter()
    index = Index.create(folder / "emberta", model=None, dim=vectors.shape[1], fingerprint="bench",
                         ann_params={"m": 32, "ef_construction": 200})  # fmt: skip
    block = 10_000
    for s in range(0, len(texts), block):
        index.add(texts[s : s + block], [str(i) for i in range(s, min(s + block, len(texts)))], attrs[s : s + block],
                  vectors=vectors[s : s + block], fingerprint="bench", save_ann=False)  # fmt: skip
    index.flush()
    log("emberta", "build_seconds", time.perf_counter() - start)
    index.close()
    index = Index.open(folder / "emberta")

    def run(ef, flt=None, include=()):
        return lambda i, q: [int(h.id) for h in index.search(q, K, ef=ef, filter=flt, include=include)]

    for ef in EF_SWEEP:
        log("emberta", None, {"ef": ef, **measure(run(ef), queries, truths[None])})
        log("emberta+docs", None, {"ef": ef, **measure(run(ef, include=("text", "metadata")), queries, truths[None])})
    for f in filters:
        for ef in EF_SWEEP[:5]:
            r = measure(run(ef, emberta_filter(f)), queries, truths[f["name"]])
            log(f"emberta filter {f['name']}", None, {"ef": ef, **r})
    hybrid = measure(lambda i, q: index.search(query_texts[i], K, mode="hybrid", vector=q, include=()), queries,
                     truths[None])  # fmt: skip
    log("emberta hybrid", None, {"ef": index.ann_spec.ef_search, "qps": hybrid["qps"]})
    bm25 = measure(lambda i, q: index.search(query_texts[i], K, mode="bm25", include=()), queries, truths[None])
    log("emberta bm25", None, {"qps": bm25["qps"]})
    index.close()


def bench_lancedb(folder, vectors, attrs, queries, truths, filters, log):
    import lancedb
    import pyarrow as pa

    db = lancedb.connect(str(folder / "lancedb"))
    dim = vectors.shape[1]
    table_data = pa.table({
        "row": pa.array(np.arange(len(vectors)), pa.int64()),
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), dim),
        "source": [a["source"] for a in attrs],
        "label": [a["label"] for a in attrs],
        "lang": [a["lang"] for a in attrs],
        "length": pa.array([a["length"] for a in attrs], pa.int64()),
    })  # fmt: skip
    start = time.perf_counter()
    table = db.create_table("docs", table_data)
    for column in ("source", "label"):
        table.create_scalar_index(column, index_type="BITMAP")
    table.create_scalar_index("length", index_type="BTREE")
    log("lancedb", "load_seconds", time.perf_counter() - start)

    def lance_where(f):
        value = f["value"] if isinstance(f["value"], int) else "'" + str(f["value"]).replace("'", "''") + "'"
        return f"{f['field']} {f['op']} {value}"

    def run(flt, nprobes=None, refine=None):
        def search(i, q):
            query = table.search(q, vector_column_name="vector").metric("cosine").limit(K).select(["row", "_distance"])
            if nprobes:
                query = query.nprobes(nprobes)
            if refine:
                query = query.refine_factor(refine)
            if flt:
                query = query.where(lance_where(flt), prefilter=True)
            return query.to_arrow()["row"].to_pylist()

        return search

    for f in [None, *filters]:  # no vector index: exact (flat) search
        name = "lancedb flat" + (f" filter {f['name']}" if f else "")
        log(name, None, measure(run(f), queries, truths[f["name"] if f else None], min_seconds=2.0))
    start = time.perf_counter()
    table.create_index(metric="cosine", vector_column_name="vector", index_type="IVF_HNSW_SQ")
    log("lancedb", "vector_index_seconds", time.perf_counter() - start)
    for f in [None, *filters]:
        name = "lancedb ivf_hnsw_sq" + (f" filter {f['name']}" if f else "")
        for nprobes, refine in ((10, None), (20, 5), (50, 10)):
            r = measure(run(f, nprobes, refine), queries, truths[f["name"] if f else None])
            log(name, None, {"nprobes": nprobes, "refine_factor": refine, **r})


def bench_chroma(folder, vectors, attrs, queries, truths, filters, log):
    import chromadb

    client = chromadb.PersistentClient(path=str(folder / "chroma"))
    start = time.perf_counter()
    collection = client.create_collection(
        "docs",
        configuration={"hnsw": {"space": "ip", "ef_construction": 200, "max_neighbors": 32, "ef_search": 100}},
    )
    batch = client.get_max_batch_size()
    for s in range(0, len(vectors), batch):
        rows = range(s, min(s + batch, len(vectors)))
        collection.add(ids=[str(i) for i in rows], embeddings=vectors[s : s + batch],
                       metadatas=[attrs[i] for i in rows])  # fmt: skip
    log("chroma", "load_seconds", time.perf_counter() - start)

    def chroma_where(f):
        return {f["field"]: {"$gte" if f["op"] == ">=" else "$eq": f["value"]}}

    # one setting: changing ef_search with collection.modify() changed neither recall nor speed in a first run
    for ef in (100,):
        for f in [None, *filters]:
            name = "chroma" + (f" filter {f['name']}" if f else "")

            def search(i, q, f=f):
                kwargs = {"where": chroma_where(f)} if f else {}
                found = collection.query(query_embeddings=[q], n_results=K, include=[], **kwargs)
                return [int(x) for x in found["ids"][0]]

            log(name, None, {"ef": ef, **measure(search, queries, truths[f["name"] if f else None])})


# ---- report ------------------------------------------------------------------------------------------------
def best_at(rows: list[dict], system: str, floor: float = 0.95) -> dict | None:
    """The fastest setting of `system` whose recall@10 reaches `floor`."""
    ok = [r for r in rows if r["system"] == system and r.get("recall", 0) >= floor]
    return max(ok, key=lambda r: r["qps"]) if ok else None


def plot(rows: list[dict], filters: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("unfiltered", "")] + [
        (f"filter {f['name']} ({100 * f['selectivity']:.2g}% pass)", f" filter {f['name']}") for f in filters
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.2), sharey=False)
    for ax, (title, suffix) in zip(axes, panels, strict=True):
        systems = sorted({r["system"] for r in rows if r["system"].endswith(suffix) and "recall" in r
                          and (suffix or "filter" not in r["system"])})  # fmt: skip
        for system in systems:
            points = sorted((r["recall"], r["qps"]) for r in rows if r["system"] == system)
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=system.replace(suffix, ""))
        ax.set_title(title)
        ax.set_xlabel("recall@10")
        ax.set_yscale("log")
        ax.axvline(0.95, color="grey", linestyle=":", linewidth=1)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("queries / s (one query per call)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--peers", default="lancedb,chroma", help="comma-separated peers to run (or 'none')")
    parser.add_argument("--out", type=Path, default=Path("results/search-bench.json"))
    parser.add_argument("--plot", type=Path, default=Path("docs/search-recall-qps.png"))
    args = parser.parse_args()

    from emberta import load_encoder
    from emberta.cache import EmbeddingStore

    texts, attrs, query_texts = build_corpus(args.data_dir, args.n)
    query_texts = [query_texts[i] for i in np.random.default_rng(1).permutation(len(query_texts))[: args.queries]]
    print(f"corpus: {len(texts)} texts; sources: {dict(Counter(a['source'] for a in attrs).most_common())}")
    encoder = load_encoder("default")
    store = EmbeddingStore.default()
    start = time.perf_counter()
    vectors = store.encode(encoder, texts, batch_size=64)
    queries = store.encode(encoder, query_texts, batch_size=64)
    print(f"vectors: {vectors.shape} in {time.perf_counter() - start:.0f} s (cached after the first run)")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)

    filters = pick_filters(attrs)
    for f in filters:
        print(f"filter {f['name']}: {emberta_filter(f)} passes {100 * f['selectivity']:.2f}%")
    truths = {None: exact_truth(vectors, queries, None)}
    for f in filters:
        truths[f["name"]] = exact_truth(vectors, queries, filter_mask(attrs, f))

    rows: list[dict] = []
    facts: dict = {}

    def log(system, fact, row):
        if fact:
            facts[f"{system} {fact}"] = row
            print(f"{system} {fact}: {row:.1f}")
            return
        rows.append({"system": system, **row})
        print(json.dumps(rows[-1]))

    folder = Path(tempfile.mkdtemp(prefix="emberta-search-bench-"))
    try:
        bench_faiss(vectors, queries, truths, filters, attrs, log)
        bench_emberta(folder, vectors, texts, attrs, queries, query_texts, truths, filters, log)
        peers = [] if args.peers == "none" else args.peers.split(",")
        if "lancedb" in peers:
            bench_lancedb(folder, vectors, attrs, queries, truths, filters, log)
        if "chroma" in peers:
            bench_chroma(folder, vectors, attrs, queries, truths, filters, log)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    print("\n== emberta dense (ids + scores) vs raw FAISS HNSW at the same ef (same graph settings, same recall)")
    for ef in EF_SWEEP:
        raw = next(r for r in rows if r["system"] == "faiss-hnsw" and r["ef"] == ef)
        ours = next(r for r in rows if r["system"] == "emberta" and r["ef"] == ef)
        docs = next(r for r in rows if r["system"] == "emberta+docs" and r["ef"] == ef)
        overhead, with_docs = raw["qps"] / ours["qps"] - 1, raw["qps"] / docs["qps"] - 1
        print(f"ef {ef:4d}: recall {raw['recall']:.3f} / {ours['recall']:.3f}; overhead {overhead:+.1%} "
              f"(with texts + metadata: {with_docs:+.1%})")  # fmt: skip
    print("\n== fastest setting with recall@10 >= 0.95, queries/s")
    summary = {}
    for f in [None, *filters]:
        suffix = f" filter {f['name']}" if f else ""
        line = {}
        for system in ("emberta", "emberta+docs", "lancedb flat", "lancedb ivf_hnsw_sq", "chroma"):
            best = best_at(rows, system + suffix)
            line[system] = None if best is None else round(best["qps"], 1)
        summary[f["name"] if f else "unfiltered"] = line
        ours = line["emberta"]
        ratios = {s: (ours / v if ours and v else None) for s, v in line.items() if not s.startswith("emberta")}
        print(
            f"{f['name'] if f else 'unfiltered':>10}: {line}  emberta / peer: "
            + ", ".join(f"{s} {r:.1f}x" if r else f"{s} -" for s, r in ratios.items())
        )
    short = [r for r in rows if r.get("short_results")]
    print(f"\nqueries that returned fewer than k hits while k passed: "
          f"{ {r['system']: r['short_results'] for r in short} or 'none'}")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"facts": facts, "filters": filters, "rows": rows, "summary": summary}, indent=1))
    plot(rows, filters, args.plot)
    print(f"wrote {args.out} and {args.plot}")


if __name__ == "__main__":
    main()
