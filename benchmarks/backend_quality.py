"""Quality of each backend of the default model on STSBenchmark, SciFact and Banking77Classification:
torch (sentence-transformers), ONNX fp32, ONNX int8 and a static model2vec distillation (256 dims).
Goal: int8 loses <= 0.5 points on each task against fp32.

    .venv/bin/python benchmarks/backend_quality.py [--data-dir DIR] [--tasks STSBenchmark,SciFact,...]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import emberta
from common import parser as benchmark_parser
from emberta.encoders.onnx_export import export_onnx
from emberta.encoders.static_distill import distill_static

TASKS = "STSBenchmark,SciFact,Banking77Classification"


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--tasks", default=TASKS)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        specs = {
            "torch": "default",
            "onnx fp32": f"onnx:{export_onnx('default', Path(tmp) / 'fp32')}",
            "onnx int8": f"onnx:{export_onnx('default', Path(tmp) / 'int8', quantize='int8')}",
            "static 256": f"static:{distill_static('default', Path(tmp) / 'static', dims=256)}",
        }
        scores: dict[str, dict[str, float]] = {}
        for label, spec in specs.items():
            start = time.perf_counter()
            results = emberta.evaluate(spec, args.tasks, data_dir=args.data_dir, cache=False)
            scores[label] = {r.task_name: 100 * r.main_score for r in results}
            print(f"{label}: {time.perf_counter() - start:.0f} s", flush=True)

    tasks = list(scores["torch"])
    print(f"\n{'backend':<12}" + "".join(f"{t:>26}" for t in tasks))
    for label, row in scores.items():
        print(f"{label:<12}" + "".join(f"{row[t]:>26.2f}" for t in tasks))
    print(f"{'int8 - fp32':<12}" + "".join(f"{scores['onnx int8'][t] - scores['onnx fp32'][t]:>+26.2f}" for t in tasks))
    worst = min(scores["onnx int8"][t] - scores["onnx fp32"][t] for t in tasks)
    print(f"largest int8 loss: {-worst:.2f} points (goal <= 0.5): {'met' if worst >= -0.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
