"""Training recipes end to end on the default model (all-MiniLM-L6-v2), CPU, with real data; prints each run's
training time and scores, for docs/training.md.

Runs (pick with --runs, default all):
  cosent      CoSENT, 1 epoch on STS Benchmark train -> STSBenchmark test Spearman
  matryoshka  CoSENT + Matryoshka 384,256,128,64, 1 epoch -> STSBenchmark at 384/256/128/64 dims, against the
              base model and the plain CoSENT model truncated the same way
  scifact     MNRL with 1 mined hard negative per pair on SciFact's train queries/qrels (2 epochs) -> SciFact test
              nDCG@10; the train and test query sets are disjoint
  simcse      SimCSE (unsupervised: dropout views) on the STS Benchmark training sentences, without their scores
  distill     MSE distillation of the default model (teacher) into a 3-layer student made from its own layers,
              on unlabeled sentences -> STSBenchmark, and the student's encoding speed against the teacher's
  starbucks   Starbucks ladder (1..6 layers x 16..384 dims) on the STS Benchmark train pairs with CoSENT ->
              STSBenchmark at each rung, against the base model cut the same way

    .venv/bin/python benchmarks/training.py [--runs cosent,matryoshka,...] [--data-dir DIR] [--work DIR]
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path

import emberta
from common import parser as benchmark_parser
from emberta.train import TrainConfig, train_embed

RUNS = ("cosent", "matryoshka", "scifact", "simcse", "distill", "starbucks")


def score(model, task: str, data: Path, **options) -> float:
    encoder = emberta.load_encoder(model, **options)
    return 100 * emberta.evaluate(encoder, [task], data_dir=data, cache=False, show_progress=False)[0].main_score


def train(work: Path, name: str, **settings) -> tuple[Path, float, dict]:
    out = work / name
    start = time.perf_counter()
    summary = train_embed(TrainConfig(out=str(out), **settings))
    return out, time.perf_counter() - start, summary


def sentences(data: Path) -> Path:
    """The STS Benchmark training sentences, unlabeled, one per line (SimCSE / distillation data)."""
    rows = [json.loads(line) for line in (data / "stsbenchmark" / "train.jsonl").read_text().splitlines()]
    texts = list(dict.fromkeys(t for r in rows for t in (r["sentence1"], r["sentence2"])))
    path = Path(tempfile.mkdtemp()) / "stsb-train-sentences.txt"
    path.write_text("\n".join(texts) + "\n")
    return path


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--runs", default=",".join(RUNS))
    parser.add_argument("--work", type=Path, default=None, help="Where trained models go (default: a temp dir).")
    args = parser.parse_args()
    data, work = args.data_dir, args.work or Path(tempfile.mkdtemp(prefix="emberta-train-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    stsb = str(data / "stsbenchmark" / "train.jsonl")
    import torch

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"
          f" ({torch.get_num_threads()} threads), emberta {emberta.__version__}; models in {work}")  # fmt: skip
    results = {}
    for run in args.runs.split(","):
        print(f"\n== {run}", flush=True)
        if run == "cosent":
            out, seconds, summary = train(work, "cosent", data=[stsb], loss="cosent")
            base, trained = score("default", "STSBenchmark", data), score(out, "STSBenchmark", data)
            results[run] = {"seconds": seconds, "steps": summary["steps"], "base": base, "trained": trained}
        elif run == "matryoshka":
            dims = [384, 256, 128, 64]
            out, seconds, summary = train(work, "matryoshka", data=[stsb], loss="cosent", matryoshka_dims=dims)
            plain = work / "cosent" if (work / "cosent").is_dir() else train(work, "cosent", data=[stsb],
                                                                             loss="cosent")[0]  # fmt: skip
            table = {}
            for dim in dims:
                options = {"truncate_dim": dim} if dim < 384 else {}
                models = {"base": "default", "cosent": plain, "matryoshka": out}
                table[dim] = {name: score(model, "STSBenchmark", data, **options) for name, model in models.items()}
            results[run] = {"seconds": seconds, "steps": summary["steps"], "table": table}
        elif run == "scifact":
            out, seconds, summary = train(work, "scifact", data=[str(data / "scifact")], loss="mnrl", hard_negatives=1,
                                          relative_margin=0.05, batch_size=32, epochs=2, lr=3e-5)  # fmt: skip
            results[run] = {"seconds": seconds, "steps": summary["steps"], "examples": summary["examples"],
                            "trained": score(out, "SciFact", data)}  # fmt: skip
        elif run == "simcse":
            texts = sentences(data)
            out, seconds, summary = train(work, "simcse", data=[str(texts)], loss="simcse", batch_size=64, lr=1e-5)
            results[run] = {"seconds": seconds, "steps": summary["steps"], "examples": summary["examples"],
                            "trained": score(out, "STSBenchmark", data)}  # fmt: skip
        elif run == "distill":
            texts = sentences(data)
            student = work / "student-untrained"
            if not student.is_dir():  # the 3-layer student before distillation, for its starting score
                from emberta.train.student import keep_layers

                model = emberta.load_encoder("default", backend="torch").sentence_transformer
                keep_layers(model, 3)
                model.save(str(student))
            out, seconds, summary = train(work, "distill", data=[str(texts)], loss="mse-distill", teacher="default",
                                          student_layers=3, batch_size=64, lr=1e-4, epochs=3)  # fmt: skip
            speed = {}
            probe = texts.read_text().splitlines()[:2000]
            for name, model in (("teacher", "default"), ("student", out)):
                encoder = emberta.load_encoder(model)
                encoder.encode(probe[:64], show_progress=False)
                start = time.perf_counter()
                encoder.encode(probe, show_progress=False)
                speed[name] = len(probe) / (time.perf_counter() - start)
            results[run] = {"seconds": seconds, "steps": summary["steps"], "examples": summary["examples"],
                            "student_before": score(student, "STSBenchmark", data),
                            "student_after": score(out, "STSBenchmark", data), "texts_per_s": speed,
                            "speedup": speed["student"] / speed["teacher"]}  # fmt: skip
        elif run == "starbucks":
            out, seconds, summary = train(work, "starbucks", data=[stsb], loss="cosent", layers="starbucks")
            pairs = json.loads((out / "emberta-train.json").read_text())["config"]["starbucks_pairs"]
            table = {}
            for layer, dim in pairs:
                options = {"layer": layer, "truncate_dim": dim} if (layer, dim) != (6, 384) else {}
                table[f"{layer}x{dim}"] = {"base": score("default", "STSBenchmark", data, **options),
                                           "starbucks": score(out, "STSBenchmark", data, **options)}  # fmt: skip
            results[run] = {"seconds": seconds, "steps": summary["steps"], "table": table}
        else:
            raise SystemExit(f"unknown run {run!r}; choose from {', '.join(RUNS)}")
        print(json.dumps(results[run], indent=1, default=float), flush=True)
    print("\n" + json.dumps(results, default=float))


if __name__ == "__main__":
    main()
