"""Encode speed, cold start and peak memory of every backend against sentence-transformers.

Backends: sentence-transformers (the peer) and emberta's torch, ONNX fp32, ONNX int8, OpenVINO fp32, OpenVINO
int8 and static (model2vec, 256 dims) backends, all on the default model (all-MiniLM-L6-v2), the same real
texts, the same thread count, in one run. Three corpora: short sentences (STS Benchmark, ~13 tokens), AG News
title + description (~45 tokens) and SciFact abstracts (documents, most over 256 tokens, so truncated to the
model's 256). Throughput: in this process, after a warm-up, alternating rounds, sentences / median seconds.
Cold start (process start to first vector) and peak memory (max RSS while encoding the 2,000 texts): one fresh
subprocess per backend.

Goals (ratios to sentence-transformers): emberta torch >= 0.95, ONNX fp32 >= 1.7, ONNX int8 >= 3.5, OpenVINO
fp32 >= 3 (with minimum cosine >= 0.9999 to sentence-transformers), OpenVINO int8 >= 5, static >= 50.

    .venv/bin/python benchmarks/encode.py [--data-dir DIR] [--n 2000] [--documents 500] [--rounds 3]
        [--batch-size 32] [--backends NAME,...]
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import parser as benchmark_parser

CORPORA = {
    "short": ("stsbenchmark", ["test.jsonl", "dev.jsonl", "train.jsonl"], ["sentence1", "sentence2"]),
    "agnews": ("agnews_clustering", ["test.jsonl.gz"], ["text_p2p"]),
    "documents": ("scifact", ["corpus.jsonl.gz"], ["text"]),
}
GOALS = {
    "emberta torch": 0.95,
    "emberta onnx fp32": 1.7,
    "emberta onnx int8": 3.5,
    "emberta openvino fp32": 3.0,
    "emberta openvino int8": 5.0,
    "emberta static": 50.0,
}
MIN_COSINE_GOAL = {"emberta openvino fp32": 0.9999}


def load_texts(data_dir: Path, corpus: str, n: int) -> list[str]:
    import emberta

    folder, files, fields = CORPORA[corpus]
    seen: dict[str, None] = {}
    for name in files:
        for field in fields:
            for text in emberta.read_texts(data_dir / folder / name, field=field):
                seen.setdefault(text)
                if len(seen) == n:
                    return list(seen)
    raise SystemExit(f"only {len(seen)} distinct texts in {folder}")


CHILD = """
import json, sys, time
start = time.perf_counter()
kind, spec, texts_file = sys.argv[1], sys.argv[2], sys.argv[3]
if kind == "sentence-transformers":
    from sentence_transformers import SentenceTransformer
    model = SentenceTransformer(spec, device="cpu")
    encode = lambda texts: model.encode(texts, batch_size=32)
else:
    import emberta
    encoder = emberta.load_encoder(spec)
    encode = lambda texts: encoder.encode(texts, batch_size=32, show_progress=False)
encode(["first vector"])
first = time.perf_counter() - start
encode(json.load(open(texts_file)))
# VmHWM: this process's own peak resident memory (ru_maxrss would carry the parent's peak across exec)
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"first_vector_s": first, "peak_rss_mb": peak_kb / 1024}))
"""


def cold_start(kind: str, spec: str, texts_file: str) -> dict:
    """Wall time from process start to the first vector, and peak memory while encoding the texts."""
    launched = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", CHILD, kind, spec, texts_file], capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(result.stderr)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    report["process_s"] = time.perf_counter() - launched
    return report


def build_specs(tmp: Path, selected: set[str] | None) -> dict[str, str]:
    """Model spec per backend; the exports and the static model are made here, before any timing."""
    from emberta.encoders.model_folder import default_model_path
    from emberta.encoders.onnx_export import export_onnx
    from emberta.encoders.openvino_export import export_openvino
    from emberta.encoders.static_distill import distill_static

    makers = {
        "sentence-transformers": lambda: str(default_model_path()),
        "emberta torch": lambda: "default",
        "emberta onnx fp32": lambda: f"onnx:{export_onnx('default', tmp / 'fp32')}",
        "emberta onnx int8": lambda: f"onnx:{export_onnx('default', tmp / 'int8', quantize='int8')}",
        "emberta openvino fp32": lambda: f"openvino:{export_openvino('default', tmp / 'ov-fp32')}",
        "emberta openvino int8": lambda: f"openvino:{export_openvino('default', tmp / 'ov-int8', quantize='int8')}",
        "emberta static": lambda: f"static:{distill_static('default', tmp / 'static', dims=256)}",
    }
    chosen = [name for name in makers if selected is None or name in selected or name == "sentence-transformers"]
    return {name: makers[name]() for name in chosen}


def print_versions() -> None:
    import onnxruntime
    import openvino
    import sentence_transformers
    import torch

    import emberta

    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, {platform.processor() or 'cpu ?'}, "
          f"torch threads {torch.get_num_threads()}")  # fmt: skip
    versions = {
        "emberta": emberta.__version__, "sentence-transformers": sentence_transformers.__version__,
        "torch": torch.__version__, "onnxruntime": onnxruntime.__version__, "openvino": openvino.__version__,
        "python": platform.python_version(),
    }  # fmt: skip
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))


def time_corpus(corpus: str, texts: list[str], runners: dict, rounds: int, tokens: float) -> None:
    """Warm up every backend, then `rounds` alternating rounds; print rate, ratio, cosine to the peer, goals."""
    seconds: dict[str, list[float]] = {name: [] for name in runners}
    for run in runners.values():
        run(texts[:64])
    expected = runners["sentence-transformers"](texts)
    agreement = {}
    for _ in range(rounds):
        for name, run in runners.items():
            start = time.perf_counter()
            vectors = run(texts)
            seconds[name].append(time.perf_counter() - start)
            if name != "emberta static":
                norms = np.linalg.norm(vectors, axis=1) * np.linalg.norm(expected, axis=1)
                cos = (vectors * expected).sum(1) / norms
                agreement[name] = (float(cos.mean()), float(cos.min()))
    print(f"corpus {corpus}: {len(texts)} texts, {tokens:.0f} tokens on average (model reads at most 256)")
    base = len(texts) / statistics.median(seconds["sentence-transformers"])
    for name, times in seconds.items():
        rate = len(texts) / statistics.median(times)
        met = rate / base >= GOALS.get(name, 0) and agreement.get(name, (1, 1))[1] >= MIN_COSINE_GOAL.get(name, 0)
        goal = f"goal >= {GOALS[name]}x: {'met' if met else 'NOT met'}" if name in GOALS else ""
        cos = f"cosine to ST mean {agreement[name][0]:.4f} min {agreement[name][1]:.4f}" if name in agreement else ""
        print(f"  {name:<22} {rate:9.1f} texts/s  {rate / base:6.2f}x  {cos:38} {goal}")
    print()


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--documents", type=int, default=500, help="SciFact abstracts in the documents corpus")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--backends", default=None, help="comma-separated subset of the backends (peer always)")
    parser.add_argument("--no-cold-start", action="store_true")
    args = parser.parse_args()
    from sentence_transformers import SentenceTransformer

    import emberta

    tmp = Path(tempfile.mkdtemp(prefix="emberta-bench-"))
    specs = build_specs(tmp, set(args.backends.split(",")) if args.backends else None)
    peer = SentenceTransformer(specs["sentence-transformers"], device="cpu")
    encoders = {name: emberta.load_encoder(spec) for name, spec in specs.items() if name.startswith("emberta")}
    batch = args.batch_size
    runners = {"sentence-transformers": lambda texts: peer.encode(texts, batch_size=batch)}
    for name, encoder in encoders.items():
        runners[name] = lambda texts, e=encoder: e.encode(texts, batch_size=batch, show_progress=False)
    print_versions()
    print(f"batch size {batch}; {args.rounds} alternating rounds after a warm-up; rate = texts / median seconds\n")
    for corpus in CORPORA:
        texts = load_texts(args.data_dir, corpus, args.documents if corpus == "documents" else args.n)
        tokens = float(np.mean([len(ids) for ids in peer.tokenizer(texts)["input_ids"]]))
        time_corpus(corpus, texts, runners, args.rounds, tokens)
    if not args.no_cold_start:
        print_cold_starts(specs, load_texts(args.data_dir, "agnews", args.n), tmp)


def print_cold_starts(specs: dict[str, str], texts: list[str], tmp: Path) -> None:
    texts_file = tmp / "texts.json"
    texts_file.write_text(json.dumps(texts))
    print("cold start (fresh process: imports, model load, first vector) and peak memory encoding 2,000 AG News texts")
    for name, spec in specs.items():
        report = cold_start(
            "sentence-transformers" if name == "sentence-transformers" else "emberta", spec, str(texts_file)
        )
        print(f"  {name:<22} first vector {report['first_vector_s']:5.2f} s   peak RSS {report['peak_rss_mb']:7.0f} MB")


if __name__ == "__main__":
    main()
