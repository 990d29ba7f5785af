"""Cross-model adapters against a full re-embedding, Drift-Adapter style: for each (old, new) model pair, on SciFact
and Cranfield, nDCG@10 and recall@10 of (a) the old model, (b) the new model with the corpus re-embedded, and
(c) new-model queries mapped by an adapter into the old corpus vectors, for each method and 1k / 5k / 20k
training pairs; the share of (b) that (c) recovers, and the microseconds the mapping adds per query.

Models (built under --work when missing, with emberta's own recipes): default (all-MiniLM-L6-v2); student (MSE
distillation into 3 of its layers, docs/training.md's recipe); simcse (one epoch of unsupervised SimCSE on the
STS Benchmark sentences); static (model2vec distillation to 256 dimensions: another width). Each pair runs in
both directions (an index built with either model, the other one new).

Training pairs are texts from other datasets (AG News, Banking77, TweetEval, MRPC, STS, Twitter URL) and the
two corpora, never a test query. Embeddings go through emberta's cache, so a second run only fits and scores.

    .venv/bin/python benchmarks/align.py [--work DIR] [--models student,simcse,static] [--methods procrustes,affine,mlp]
        [--pairs 1000,5000,20000] [--json FILE]
"""

from __future__ import annotations

import gzip
import json
import os
import platform
import random
import time
from pathlib import Path

import numpy as np

import emberta
from common import parser as benchmark_parser
from emberta.align import fit_pairs
from emberta.cache import EmbeddingStore
from emberta.io.datasets import read_beir
from emberta.tasks.retrieval import retrieval_metrics, search

TASKS = {"SciFact": "scifact", "Cranfield": "cranfield"}
POOL_FILES = ["agnews_clustering/test.jsonl.gz", "banking77/train.jsonl", "tweeteval_sentiment/test.jsonl",
              "tweeteval_offensive/train.jsonl", "tweeteval_hate/train.jsonl", "mrpc/test.jsonl",
              "stsbenchmark/train.jsonl", "twitter_url_corpus/test.jsonl.gz"]  # fmt: skip
METHODS = ("procrustes", "affine", "mlp")


def build_models(work: Path, data: Path) -> dict[str, str]:
    """Model specs by name; trains the student and SimCSE copies and distils the static model when missing."""
    from emberta.encoders.static_distill import distill_static
    from emberta.train import TrainConfig, train_embed

    sentences = work / "stsb-sentences.txt"
    if not sentences.is_file():
        rows = [json.loads(line) for line in (data / "stsbenchmark" / "train.jsonl").read_text().splitlines()]
        sentences.write_text("\n".join(dict.fromkeys(t for r in rows for t in (r["sentence1"], r["sentence2"]))))
    recipes = {
        "student": dict(loss="mse-distill", teacher="default", student_layers=3, lr=1e-4, batch_size=64, epochs=3),
        "simcse": dict(loss="simcse", lr=1e-5, batch_size=64, epochs=1),
    }
    for name, recipe in recipes.items():
        if not (work / name / "modules.json").is_file():
            print(f"training {name} ...", flush=True)
            train_embed(TrainConfig(out=str(work / name), data=[str(sentences)], **recipe))
    if not (work / "static").is_dir():
        print("distilling static ...", flush=True)
        distill_static("default", work / "static", dims=256)
    return {"default": "default", "student": str(work / "student"), "simcse": str(work / "simcse"),
            "static": f"static:{work / 'static'}"}  # fmt: skip


def text_pool(data: Path, exclude: set[str], size: int) -> list[str]:
    """`size` distinct texts from the pool files and the task corpora (shuffled, seed 0), none a test query."""
    texts: list[str] = []
    for name in POOL_FILES:
        path = data / name
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                texts += [row[k] for k in ("text", "sentence1", "sentence2") if isinstance(row.get(k), str)]
    for folder in TASKS.values():
        texts += list(read_beir(data / folder).corpus.values())
    unique = [t for t in dict.fromkeys(t.strip() for t in texts) if t and t not in exclude]
    random.Random(0).shuffle(unique)
    return unique[:size]


def scores(queries: np.ndarray, docs: np.ndarray, task) -> tuple[float, float]:
    """(nDCG@10, recall@10) x 100 of exact cosine search."""
    run = search(queries, docs, list(task.corpus), list(task.queries), top_k=100)
    metrics = retrieval_metrics(run, task.qrels)
    return 100 * metrics["ndcg_at_10"], 100 * metrics["recall_at_10"]


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--work", type=Path, default=Path("build/align-models"))
    parser.add_argument("--pairs", default="1000,5000,20000")
    parser.add_argument("--models", default="student,simcse,static")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    specs = build_models(args.work, args.data_dir)
    sizes = [int(n) for n in args.pairs.split(",")]
    tasks = {name: read_beir(args.data_dir / folder) for name, folder in TASKS.items()}
    exclude = {q.strip() for t in tasks.values() for q in t.queries.values()}
    pool = text_pool(args.data_dir, exclude, max(sizes))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; emberta "
          f"{emberta.__version__}; {len(pool)} training texts", flush=True)  # fmt: skip
    results = []
    with EmbeddingStore.default() as store:
        wanted = ["default", *args.models.split(",")]
        encoders = {name: emberta.load_encoder(specs[name]) for name in wanted}
        vectors = {}
        for name, encoder in encoders.items():
            started = time.perf_counter()
            vectors[name] = {"pool": store.encode(encoder, pool, batch_size=64)}
            for task_name, task in tasks.items():
                sides = (list(task.queries.values()), list(task.corpus.values()))
                vectors[name][task_name] = tuple(store.encode(encoder, texts, batch_size=64) for texts in sides)
            print(f"encoded with {name} ({time.perf_counter() - started:.0f} s)", flush=True)
        for other in args.models.split(","):
            for old, new in (("default", other), (other, "default")):
                results += run_pair(old, new, vectors, tasks, sizes, args.methods.split(","))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


def run_pair(old: str, new: str, vectors: dict, tasks: dict, sizes: list[int], methods: list[str]) -> list[dict]:
    """Every method x size x task for one (old, new) pair (each adapter fitted once, scored on every task);
    prints one row each."""
    rows = []
    print(f"\n== index built with {old}, new model {new}")
    print("task       | method     |  pairs | old nDCG | new nDCG | adapted nDCG (share) | adapted R@10 (share) "
          "| mean cos | us/query (1 / batched)")  # fmt: skip
    baselines = {name: (scores(*vectors[old][name], task), scores(*vectors[new][name], task))
                 for name, task in tasks.items()}  # fmt: skip
    for method in methods:
        for n in sizes:
            try:
                adapter, report = fit_pairs(vectors[new]["pool"][:n], vectors[old]["pool"][:n], method)
            except emberta.errors.OptionError as exc:
                print(f"{'(all)':10} | {method:10} | {n:6} | cannot fit: {exc}")
                continue
            cost = report["microseconds_per_query"]
            for task_name, task in tasks.items():
                (a, b), new_q, old_d = baselines[task_name], vectors[new][task_name][0], vectors[old][task_name][1]
                c = scores(adapter.transform(new_q), old_d, task)
                row = {"task": task_name, "old": old, "new": new, "method": method, "pairs": n, "old_model": a,
                       "new_model": b, "adapted": c, "share_ndcg": c[0] / b[0], "share_recall": c[1] / b[1],
                       "mean_cosine": report["quality"]["mean_cosine"], "microseconds": cost}  # fmt: skip
                rows.append(row)
                print(f"{task_name:10} | {method:10} | {n:6} | {a[0]:8.2f} | {b[0]:8.2f} | {c[0]:8.2f} "
                      f"({100 * c[0] / b[0]:5.1f}%)    | {c[1]:8.2f} ({100 * c[1] / b[1]:5.1f}%)    | "
                      f"{report['quality']['mean_cosine']:.3f}    | {cost['single']:.1f} / {cost['batched']:.2f}",
                      flush=True)  # fmt: skip
    return rows


if __name__ == "__main__":
    main()
