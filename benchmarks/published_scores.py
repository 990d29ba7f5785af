"""Copy MTEB's published scores (REFERENCE_MODELS.json of the shared datasets) into the package data file
src/emberta/tasks/mteb_published.json, which `emberta eval --compare-published` reads. The numbers are MTEB's
(embeddings-benchmark/results), not a dataset; run this again when the shared file changes.

    .venv/bin/python benchmarks/published_scores.py [--data-dir DIR]
"""

from __future__ import annotations

import json
from pathlib import Path

from common import parser as benchmark_parser

TARGET = Path(__file__).resolve().parents[1] / "src" / "emberta" / "tasks" / "mteb_published.json"


def main() -> None:
    args = benchmark_parser(__doc__).parse_args()
    source = args.data_dir / "REFERENCE_MODELS.json"
    data = json.loads(source.read_text(encoding="utf-8"))
    TARGET.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {TARGET} ({len(data['models'])} models, {len(data['tasks'])} tasks) from {source}")


if __name__ == "__main__":
    main()
