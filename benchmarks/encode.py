"""Encode speed: emberta's torch backend against sentence-transformers on the same 2,000 real sentences.

Both run the default model (all-MiniLM-L6-v2) in this one process, same batch size and threads, alternating
rounds so drift on the machine hits both. Goal: emberta/ST >= 0.95 (no overhead).

    .venv/bin/python benchmarks/encode.py [--data-dir DIR] [--n 2000] [--rounds 3] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np


def load_sentences(data_dir: Path, n: int) -> list[str]:
    import emberta

    seen: dict[str, None] = {}
    for split in ("test", "dev", "train"):
        for field in ("sentence1", "sentence2"):
            for text in emberta.read_texts(data_dir / "stsbenchmark" / f"{split}.jsonl", field=field):
                seen.setdefault(text)
                if len(seen) == n:
                    return list(seen)
    raise SystemExit(f"only {len(seen)} distinct sentences found under {data_dir}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_data = os.environ.get("EMBERTA_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    parser.add_argument("--data-dir", type=Path, default=Path(default_data))
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    import emberta
    from emberta.encoders.model_folder import default_model_path

    sentences = load_sentences(args.data_dir, args.n)
    ours = emberta.load_encoder("default")
    theirs = SentenceTransformer(str(default_model_path()), device="cpu")

    runners = {
        "emberta": lambda: ours.encode(sentences, batch_size=args.batch_size, show_progress=False),
        "sentence-transformers": lambda: theirs.encode(sentences, batch_size=args.batch_size),
    }
    for run in runners.values():  # warm-up
        run()
    seconds: dict[str, list[float]] = {name: [] for name in runners}
    outputs = {}
    for _ in range(args.rounds):
        for name, run in runners.items():
            start = time.perf_counter()
            outputs[name] = run()
            seconds[name].append(time.perf_counter() - start)

    a, b = outputs["emberta"], outputs["sentence-transformers"]
    min_cos = float(((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)).min())
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, torch threads {torch.get_num_threads()}")
    print(f"versions: emberta {emberta.__version__}, sentence-transformers {sentence_transformers.__version__}, "
          f"torch {torch.__version__}, python {platform.python_version()}")  # fmt: skip
    print(f"data: {len(sentences)} distinct sentences from stsbenchmark; batch size {args.batch_size}; "
          f"{args.rounds} alternating rounds after a warm-up")  # fmt: skip
    rates = {}
    for name, times in seconds.items():
        rates[name] = len(sentences) / statistics.median(times)
        best = len(sentences) / min(times)
        print(f"{name:>22}: {rates[name]:8.1f} sentences/s (median)   {best:8.1f} (best)")
    print(f"ratio emberta / sentence-transformers: {rates['emberta'] / rates['sentence-transformers']:.3f} "
          f"(goal >= 0.95); min row cosine between outputs {min_cos:.6f}")  # fmt: skip


if __name__ == "__main__":
    main()
