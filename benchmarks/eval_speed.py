"""Evaluation speed: `emberta eval` against the mteb package (2.26.24) on the same tasks, data and model, in one run.

Runs, in this order, each over the whole task set:
  (a) mteb cold: mteb.evaluate with mteb's own evaluators on the custom in-memory tasks of mteb_crosscheck.py
      (no results cache; mteb has no embedding cache, so everything is encoded);
  (b) emberta cold: emberta.evaluate with a fresh EmbeddingStore (a new SQLite file in a temp folder);
  (c) emberta warm: emberta.evaluate again, with a new EmbeddingStore on the same file (a second run);
  (d) mteb second run (unless --no-mteb-rerun): new task objects, mteb.evaluate again (it re-encodes);
  (e) emberta cold on the ONNX int8 backend (unless --no-onnx; exported before timing).
Both sides run the default model (all-MiniLM-L6-v2) on CPU in this process with batch size 32 and their default
encode settings (mteb gets the sentence-transformers model). Models are loaded and warmed up (one small batch each)
before any timing; only the evaluation calls are timed, data loading included on both sides.
Goals: mteb_cold / emberta_cold >= 2x, mteb_cold / emberta_warm >= 20x.

    .venv/bin/python benchmarks/eval_speed.py [--data-dir DIR] [--tasks STSBenchmark,TrecQA,...] [--no-mteb-rerun]

Default tasks: STSBenchmark, TwitterSemEval2015-OfficialTest, TweetEvalEmotion, Banking77Clustering, TrecQA,
Tatoeba (deu-eng); Cranfield can be added with --tasks.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TQDM_DISABLE", "1")

import platform
import sys
import tempfile
import time
from pathlib import Path

from common import parser as benchmark_parser
from mteb_crosscheck import (
    BATCH_SIZE,
    CHECKS,
    load_st_model,
    quiet_libraries,
    run_mteb,
    select_checks,
)

DEFAULT_TASKS = [
    "STSBenchmark",
    "TwitterSemEval2015-OfficialTest",
    "TweetEvalEmotion",
    "Banking77Clustering",
    "TrecQA",
    "Tatoeba",
]
WARM_UP = ["A short sentence to warm the model up.", "Another one, a little longer than the first sentence."]


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument(
        "--tasks", help=f"comma-separated, from: {', '.join(CHECKS)} (default: {', '.join(DEFAULT_TASKS)})"
    )
    parser.add_argument("--no-mteb-rerun", action="store_true", help="skip (d), mteb's second run")
    parser.add_argument("--no-onnx", action="store_true", help="skip (e), emberta cold with the ONNX int8 backend")
    args = parser.parse_args()
    checks = select_checks(args.tasks, DEFAULT_TASKS)
    quiet_libraries()

    import mteb
    import sentence_transformers
    import torch
    from mteb.models.sentence_transformer_wrapper import SentenceTransformerEncoderWrapper

    import emberta
    from emberta.cache import EmbeddingStore

    print(
        f"machine: {os.cpu_count()} CPUs ({len(os.sched_getaffinity(0))} usable), torch threads "
        f"{torch.get_num_threads()}, {platform.platform()}, {platform.processor() or platform.machine()}"
    )
    print(
        f"versions: emberta {emberta.__version__}, mteb {mteb.__version__}, sentence-transformers "
        f"{sentence_transformers.__version__}, torch {torch.__version__}, python {platform.python_version()}"
    )
    print(f"tasks: {', '.join(c.label for c in checks)}; batch size {BATCH_SIZE}; data {args.data_dir}")

    # models loaded once, and warmed up, before any timing
    st_model = load_st_model()
    theirs = SentenceTransformerEncoderWrapper(st_model)
    ours = emberta.load_encoder("default")
    st_model.encode(WARM_UP, batch_size=BATCH_SIZE, show_progress_bar=False)
    ours.encode(WARM_UP, batch_size=BATCH_SIZE, show_progress=False)
    specs = [c.emberta_spec() for c in checks]

    seconds: dict[str, float] = {}
    per_task: dict[str, dict[str, tuple[float, float]]] = {}  # run -> task label -> (seconds, main score)

    def timed_mteb(run: str) -> None:
        tasks = [c.mteb_task(args.data_dir) for c in checks]  # fresh objects: no data or rng state carried over
        print(f"  {run} ... (load {load_average()})", flush=True)
        start = time.perf_counter()
        results = run_mteb(theirs, tasks)
        seconds[run] = time.perf_counter() - start
        per_task[run] = {
            c.label: (results[t.metadata.name].evaluation_time, results[t.metadata.name].get_score())
            for c, t in zip(checks, tasks, strict=True)
        }

    def timed_emberta(run: str, store: EmbeddingStore, encoder=ours) -> None:
        print(f"  {run} ... (load {load_average()})", flush=True)
        start = time.perf_counter()
        results = emberta.evaluate(
            encoder, specs, data_dir=args.data_dir, cache=store, batch_size=BATCH_SIZE, show_progress=False
        )
        seconds[run] = time.perf_counter() - start
        per_task[run] = {c.label: (r.evaluation_time, r.main_score) for c, r in zip(checks, results, strict=True)}
        print(f"    texts encoded {store.encoded}, cache hits {store.hits}", flush=True)

    print("\nruns:")
    with tempfile.TemporaryDirectory(prefix="emberta-eval-speed-") as tmp:
        store_path = Path(tmp) / "embeddings.sqlite"
        timed_mteb("mteb cold")
        store = EmbeddingStore(store_path)
        try:
            timed_emberta("emberta cold", store)
        finally:
            store.close()
        store = EmbeddingStore(store_path)  # a second run: nothing in memory, everything in the file
        try:
            timed_emberta("emberta warm", store)
        finally:
            store.close()
        if not args.no_onnx:
            # (e) the same evaluation on the ONNX int8 backend (exported before timing): a faster encoder
            from emberta.encoders.onnx_export import export_onnx

            onnx = emberta.load_encoder(f"onnx:{export_onnx('default', Path(tmp) / 'int8', quantize='int8')}")
            onnx.encode(WARM_UP, batch_size=BATCH_SIZE, show_progress=False)
            store = EmbeddingStore(Path(tmp) / "onnx.sqlite")
            try:
                timed_emberta("emberta onnx int8 cold", store, onnx)
            finally:
                store.close()
    if not args.no_mteb_rerun:
        timed_mteb("mteb second run")
    print(f"  done (load {load_average()})")

    runs = list(seconds)
    width = max(len(c.label) for c in checks) + 2
    print("\nper task: seconds (main score x100)")
    print(f"{'task':{width}}" + "".join(f"{r:>22}" for r in runs))
    for c in checks:
        cells = "".join(f"{per_task[r][c.label][0]:>12.1f} ({100 * per_task[r][c.label][1]:6.2f})" for r in runs)
        print(f"{c.label:{width}}{cells}")
    print(f"{'total (wall clock)':{width}}" + "".join(f"{seconds[r]:>12.1f}{'':10}" for r in runs))

    cold_ratio = seconds["mteb cold"] / seconds["emberta cold"]
    warm_ratio = seconds["mteb cold"] / seconds["emberta warm"]
    print("\nseconds: " + ", ".join(f"{r} {seconds[r]:.1f}" for r in runs))
    print(f"mteb_cold / emberta_cold = {cold_ratio:.2f}x (goal >= 2x: {'met' if cold_ratio >= 2 else 'NOT met'})")
    print(f"mteb_cold / emberta_warm = {warm_ratio:.1f}x (goal >= 20x: {'met' if warm_ratio >= 20 else 'NOT met'})")
    if "emberta onnx int8 cold" in seconds:
        print(f"mteb_cold / emberta_onnx_int8_cold = {seconds['mteb cold'] / seconds['emberta onnx int8 cold']:.2f}x")
    if "mteb second run" in seconds:
        print(f"mteb_second / emberta_warm = {seconds['mteb second run'] / seconds['emberta warm']:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
