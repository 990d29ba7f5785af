"""Quality of each backend of the default model on STSBenchmark, SciFact and Banking77Classification:
torch (sentence-transformers), ONNX fp32 and int8, OpenVINO fp32 and int8, and a static model2vec distillation
(256 dims). Goals: ONNX int8 loses <= 0.5 points on each task against ONNX fp32; OpenVINO int8 stays within 0.3
points of OpenVINO fp32 on each task.

    .venv/bin/python benchmarks/backend_quality.py [--data-dir DIR] [--tasks STSBenchmark,SciFact,...]
        [--backends torch,onnx fp32,...]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import emberta
from common import parser as benchmark_parser
from emberta.encoders.onnx_export import export_onnx
from emberta.encoders.openvino_export import export_openvino
from emberta.encoders.static_distill import distill_static

TASKS = "STSBenchmark,SciFact,Banking77Classification"
# (int8 backend, its fp32 backend, largest loss allowed in points)
GOALS = [("onnx int8", "onnx fp32", 0.5), ("openvino int8", "openvino fp32", 0.3)]


def make_specs(tmp: Path, selected: set[str] | None) -> dict[str, str]:
    makers = {
        "torch": lambda: "default",
        "onnx fp32": lambda: f"onnx:{export_onnx('default', tmp / 'fp32')}",
        "onnx int8": lambda: f"onnx:{export_onnx('default', tmp / 'int8', quantize='int8')}",
        "openvino fp32": lambda: f"openvino:{export_openvino('default', tmp / 'ov-fp32')}",
        "openvino int8": lambda: f"openvino:{export_openvino('default', tmp / 'ov-int8', quantize='int8')}",
        "static 256": lambda: f"static:{distill_static('default', tmp / 'static', dims=256)}",
    }
    return {name: make() for name, make in makers.items() if selected is None or name in selected}


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--tasks", default=TASKS)
    parser.add_argument("--backends", default=None, help="comma-separated subset of the backends")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        specs = make_specs(Path(tmp), set(args.backends.split(",")) if args.backends else None)
        scores: dict[str, dict[str, float]] = {}
        for label, spec in specs.items():
            start = time.perf_counter()
            results = emberta.evaluate(spec, args.tasks, data_dir=args.data_dir, cache=False)
            scores[label] = {r.task_name: 100 * r.main_score for r in results}
            print(f"{label}: {time.perf_counter() - start:.0f} s", flush=True)

    tasks = list(next(iter(scores.values())))
    print(f"\n{'backend':<14}" + "".join(f"{t:>26}" for t in tasks))
    for label, row in scores.items():
        print(f"{label:<14}" + "".join(f"{row[t]:>26.2f}" for t in tasks))
    for int8, fp32, allowed in GOALS:
        if int8 in scores and fp32 in scores:
            deltas = [scores[int8][t] - scores[fp32][t] for t in tasks]
            print(f"{int8 + ' - fp32':<14}" + "".join(f"{d:>+26.2f}" for d in deltas))
            worst = max(abs(d) for d in deltas)
            verdict = "met" if worst <= allowed else "NOT met"
            print(f"{int8}: largest difference {worst:.2f} points (goal <= {allowed}): {verdict}")


if __name__ == "__main__":
    main()
