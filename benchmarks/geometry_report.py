"""The measurements of docs/geometry.md for the default model: every geometry measure on the SciFact corpus
and the STS Benchmark sentences (hubness before and after mutual proximity and local scaling), language
separability before and after per-language centering on the multilingual STS Benchmark, and the multilingual
STS scores with and without per-language centering.

    .venv/bin/python benchmarks/geometry_report.py [--data-dir DIR]
(the sweep table comes from `emberta sweep`, the WEAT table from `emberta bias --debias`; see docs/geometry.md)
"""

from __future__ import annotations

import json

import numpy as np

from common import parser as benchmark_parser


def main() -> None:
    parser = benchmark_parser(__doc__)
    args = parser.parse_args()

    import emberta
    from emberta.analyze import analyze, task_texts
    from emberta.cache import EmbeddingStore
    from emberta.geometry import language_separability
    from emberta.sweep import sweep
    from emberta.transforms import LanguageCenter

    encoder = emberta.load_encoder("default")
    for dataset in ("SciFact", "STSBenchmark"):
        report = analyze(encoder, dataset=dataset, data_dir=args.data_dir)
        keep = ["rows", "rows_measured", "isotropy", "rogue_dimensions", "hubness", "hubness_mp", "hubness_ls",
                "intrinsic_dimension", "spectrum", "alignment_uniformity"]  # fmt: skip
        print(f"== {dataset}\n" + json.dumps({k: report[k] for k in keep}, indent=1))
        before, mp, ls = (report[k]["k_skewness"] for k in ("hubness", "hubness_mp", "hubness_ls"))
        print(f"k-skewness reduction: MP {100 * (1 - mp / before):.0f}%, LS {100 * (1 - ls / before):.0f}%")

    multilingual = task_texts("STSBenchmarkMultilingualSTS", args.data_dir)
    store = EmbeddingStore.default()
    vectors = store.encode(encoder, multilingual.texts)
    rng = np.random.default_rng(0)
    rows = rng.choice(len(multilingual.texts), size=5000, replace=False)
    sample, langs = vectors[rows], np.asarray(multilingual.languages)[rows]
    print("== language separability (STSBenchmarkMultilingualSTS, 5,000 sentences, 10 languages)")
    print(f"raw: {language_separability(sample, langs)}")
    centred = LanguageCenter().fit(sample, langs).transform(sample, langs)
    print(f"per-language centred: {language_separability(centred, langs)}")
    result = sweep(encoder, "STSBenchmarkMultilingualSTS", "none; center", data_dir=args.data_dir, cache=store)
    print("== multilingual STS, main score per configuration (center = per-language centering: fitted per subset)")
    for row in result.rows:
        print(f"{row.config}: {row.score:.2f}")


if __name__ == "__main__":
    main()
