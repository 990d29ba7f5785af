"""Encoding on Ray against encoding locally: texts/s, time to the first vector and identical results.

The same real texts (sentences of the Twitter URL corpus, first N distinct) are encoded by `encode_file` in this
process (the local `emberta encode`) and by `encode_on_ray` on a Ray cluster started on this machine, with 1 and
2 workers (one CPU and one torch thread each). On a 2-core machine this measures Ray's overhead, not scaling:
two workers share the cores one local process with two threads would use. Times include everything a user waits
for: model loading, and for Ray starting the cluster, counting the records and the actors loading the model.
"Steady" texts/s counts from the first vector to the last. Results go to docs/scale-out-ray.json.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import parser

OUT = Path(__file__).resolve().parents[1] / "docs" / "scale-out-ray.json"
SHARDS = 4


def load_texts(data_dir: Path, n: int) -> list[str]:
    """The first n distinct sentences of twitter_url_corpus/test.jsonl.gz (both sides of each pair)."""
    seen: dict[str, None] = {}
    with gzip.open(data_dir / "twitter_url_corpus" / "test.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            for key in ("sentence1", "sentence2"):
                seen.setdefault(row[key].strip(), None)
            if len(seen) >= n:
                break
    texts = [t for t in seen if t][:n]
    if len(texts) < n:
        raise SystemExit(f"only {len(texts)} distinct texts in the corpus; ask for fewer")
    return texts


def write_inputs(texts: list[str], folder: Path) -> tuple[Path, Path]:
    """One jsonl file (the local run's input) and a folder of SHARDS jsonl shards of the same rows (Ray's)."""
    whole, shards = folder / "texts.jsonl", folder / "shards"
    shards.mkdir()
    lines = [json.dumps({"id": f"t{i}", "text": t}) + "\n" for i, t in enumerate(texts)]
    whole.write_text("".join(lines), encoding="utf-8")
    size = -(-len(lines) // SHARDS)
    for number in range(SHARDS):
        (shards / f"part-{number}.jsonl").write_text("".join(lines[number * size : (number + 1) * size]))
    return whole, shards


def run_local(model: str, path: Path, out: Path, threads: int) -> dict:
    from emberta.embed_file import encode_file
    from emberta.encoders import load_encoder
    from emberta.io.readers import TextReader

    start, first = time.perf_counter(), []

    def arrived(rows: int) -> None:
        if not first:
            first.append(time.perf_counter() - start)

    encoder = load_encoder(model, threads=threads)
    report = encode_file(encoder, TextReader(path, id_field="id"), str(out), block_size=256, on_progress=arrived)
    return timing(report.count, first[0], time.perf_counter() - start)


def run_ray(model: str, shards: Path, out: Path, workers: int) -> dict:
    from emberta.scale import ReaderArgs, encode_on_ray

    report = encode_on_ray(shards, out, model=model, reader=ReaderArgs(id_field="id"), workers=workers,
                           encoder_options={"threads": 1})  # fmt: skip
    return dict(timing(report.count, report.first_vector_s, report.seconds), duplicates=report.duplicates)


def timing(count: int, first: float, total: float) -> dict:
    steady = count / (total - first) if total > first else None
    return {"texts": count, "seconds": round(total, 2), "first_vector_s": round(first, 2),
            "texts_per_s": round(count / total, 1), "steady_texts_per_s": steady and round(steady, 1),
            "load_average": [round(x, 2) for x in os.getloadavg()]}  # fmt: skip


def compare(local_out: Path, ray_out: Path) -> dict:
    from emberta.io.vectors import read_vectors

    (a, ids_a), (b, ids_b) = read_vectors(local_out), read_vectors(ray_out)
    cosine = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return {"same_ids_in_order": ids_a == ids_b, "min_cosine": float(cosine.min()),
            "max_abs_diff": float(np.abs(a - b).max())}  # fmt: skip


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--texts", type=int, default=20_000, help="how many texts (default 20000)")
    p.add_argument("--model", default="default")
    p.add_argument("--runs", default="local1,ray1,ray2,local2", help="which runs, in order")
    args = p.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    texts = load_texts(args.data_dir, args.texts)
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="scale-out-") as tmp:
        whole, shards = write_inputs(texts, Path(tmp))
        for run in args.runs.split(","):
            out = Path(tmp) / f"{run}{'.parquet' if run.startswith('local') else ''}"
            kind, n = run.rstrip("0123456789"), int(run[-1])
            results[run] = run_local(args.model, whole, out, n) if kind == "local" else run_ray(args.model, shards,
                                                                                                out, n)  # fmt: skip
            print(run, results[run], flush=True)
        for run in results:
            if run.startswith("ray") and "local1" in results:
                results[run]["same_as_local"] = compare(Path(tmp) / "local1.parquet", Path(tmp) / run)
    ratios = {}
    for run in (r for r in results if r.startswith("ray") and f"local{r[-1]}" in results):
        ray_run, local = results[run], results[f"local{run[-1]}"]
        ratios[f"{run}/local{run[-1]}"] = {
            "end_to_end": round(ray_run["texts_per_s"] / local["texts_per_s"], 3),
            "steady": round(ray_run["steady_texts_per_s"] / local["steady_texts_per_s"], 3),
        }
    print_table(results, ratios)
    record(results, ratios, args)


def print_table(results: dict, ratios: dict) -> None:
    print(f"\n{'run':8} {'texts':>6} {'s':>7} {'texts/s':>8} {'steady/s':>9} {'first (s)':>9}  load")
    for run, r in results.items():
        print(f"{run:8} {r['texts']:>6} {r['seconds']:>7} {r['texts_per_s']:>8} {r['steady_texts_per_s'] or '-':>9} "
              f"{r['first_vector_s']:>9}  {r['load_average']}")  # fmt: skip
    for name, value in ratios.items():
        print(f"{name}: Ray texts/s over local texts/s, end to end {value['end_to_end']}, steady {value['steady']}")


def record(results: dict, ratios: dict, args) -> None:
    import ray

    from emberta.io.atomic import write_text_atomic
    from emberta.machine import machine, versions

    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    document = {"command": "benchmarks/scale_out.py " + " ".join(sys.argv[1:]), "commit": git,
                "machine": dict(machine(), versions=dict(versions(), ray=ray.__version__)),
                "recorded": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "results": results,
                "ratios": ratios}  # fmt: skip
    write_text_atomic(OUT, json.dumps(document, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
