"""Published scores to compare against (main score x 100), from ../shared/datasets/REFERENCE.md.

"MTEB" rows are MTEB's published results (embeddings-benchmark/results) on data identical to the MTEB task;
"mteb on local files" rows are what the mteb package (2.26.24) computes with its own evaluators on the local
copies of sets that differ from MTEB's. `tolerance` is how close a correct evaluator must come.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reference:
    value: float
    source: str
    tolerance: float


MTEB = "MTEB"
PEER = "mteb on local files"

_MINILM_L6 = {
    ("STSBenchmark", "default"): Reference(82.03, MTEB, 0.1),
    ("STS12", "default"): Reference(72.37, MTEB, 0.1),
    **{
        ("STSBenchmarkMultilingualSTS", lang): Reference(value, MTEB, 0.2)
        for lang, value in {
            "de": 62.40, "en": 82.03, "es": 61.62, "fr": 64.93, "it": 59.24,
            "nl": 55.46, "pl": 56.42, "pt": 61.56, "ru": 55.55, "zh": 39.74,
        }.items()
    },
    ("Banking77Classification", "default"): Reference(80.04, MTEB, 1.0),
    ("SciFact", "default"): Reference(64.51, MTEB, 0.2),
    **{
        ("Tatoeba", f"{lang}-eng"): Reference(value, MTEB, 0.3)
        for lang, value in {
            "amh": 0.25, "ara": 0.00, "ces": 3.04, "cmn": 1.92, "deu": 7.89, "fra": 8.17,
            "hin": 0.00, "nld": 10.16, "rus": 0.07, "spa": 5.63, "tha": 0.30, "tur": 3.59,
        }.items()
    },
    ("TwitterSemEval2015-OfficialTest", "default"): Reference(71.90, PEER, 0.1),
    ("MRPC", "default"): Reference(83.73, PEER, 0.1),
    ("TweetEvalEmotion", "default"): Reference(49.14, PEER, 1.0),
    ("Banking77Clustering", "default"): Reference(89.53, PEER, 3.0),
    ("AGNewsClustering", "default"): Reference(35.45, PEER, 3.0),
    ("Cranfield", "default"): Reference(37.36, PEER, 0.2),
    ("CACM", "default"): Reference(40.91, PEER, 0.2),
    ("TrecQA", "default"): Reference(76.16, PEER, 0.2),
}  # fmt: skip

_OTHERS = {
    "all-MiniLM-L12-v2": (83.09, 73.08, 80.41, 62.64),
    "all-mpnet-base-v2": (83.42, 72.63, 81.70, 65.57),
    "paraphrase-multilingual-MiniLM-L12-v2": (84.42, 76.02, 79.80, 48.49),
    "bge-small-en-v1.5": (85.86, 77.44, 85.74, 71.27),
    "e5-small-v2": (84.92, 73.71, 81.64, 68.85),
    "multilingual-e5-small": (83.59, 78.05, 70.64, 67.58),
    "gte-small": (85.57, 75.12, 84.08, 72.70),
}
_TOLERANCE = {"STSBenchmark": 0.1, "STS12": 0.1, "Banking77Classification": 1.0, "SciFact": 0.2}

REFERENCES: dict[str, dict[tuple[str, str], Reference]] = {
    "all-MiniLM-L6-v2": _MINILM_L6,
    **{
        model: {
            (task, "default"): Reference(value, MTEB, _TOLERANCE[task])
            for task, value in zip(_TOLERANCE, values, strict=True)
        }
        for model, values in _OTHERS.items()
    },
}


def reference_for(model_name: str, task: str, subset: str) -> Reference | None:
    """The published score of `model_name` (an org/ prefix is ignored) on one task subset, if known."""
    return REFERENCES.get(model_name.rsplit("/", 1)[-1], {}).get((task, subset))
