"""`emberta analyze`: encode a set of texts (a file, or a registered task's texts), measure the geometry of the
embeddings, write report.json and PNG plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from emberta.encoders import Encoder, load_encoder
from emberta.errors import OptionError
from emberta.io import datasets
from emberta.io.atomic import write_text_atomic
from emberta.io.readers import TextReader


def task_texts(
    name: str, data_dir, positives: list | None = None
) -> tuple[list[str], list[str] | None, list[str] | None]:
    """(texts, labels or None, languages or None) of a registered task: sentences of STS, pair and bitext
    tasks (languages per subset where the task has them), texts and labels of classification and clustering
    tests, a retrieval corpus, reranking queries and candidates. `positives`, when a list, receives the
    (text, text) pairs that mean the same: STS pairs scored >= 4 of 5, positive pairs, translations."""
    from emberta.evaluate import data_root, task_folder
    from emberta.tasks.registry import get_task

    spec = get_task(name)
    folder = task_folder(spec, data_root(data_dir))
    texts, labels, languages = [], [], []
    for subset, files in spec.subsets.items():
        paths = [folder / f for f in files]
        if spec.type in ("STS", "PairClassification", "BitextMining"):
            reader = {"STS": datasets.read_sts, "PairClassification": datasets.read_pairs,
                      "BitextMining": datasets.read_bitext}[spec.type]  # fmt: skip
            data = reader(*paths)
            found = list(dict.fromkeys(data.sentences1 + data.sentences2))
            if positives is not None:
                keep = {"STS": lambda v: v >= 4.0, "PairClassification": lambda v: v == 1}.get(
                    spec.type, lambda v: True
                )
                values = data.values or [1.0] * len(data.sentences1)
                positives += [
                    (a, b) for a, b, v in zip(data.sentences1, data.sentences2, values, strict=True) if keep(v)
                ]
        elif spec.type in ("Classification", "Clustering"):
            data = datasets.read_labelled(paths[0], spec.text_field)
            found, labels = data.texts, labels + data.labels
        elif spec.type == "Retrieval":
            found = list(datasets.read_beir(paths[0], spec.split).corpus.values())
        else:
            items = datasets.read_reranking(paths[0])
            found = list(dict.fromkeys(t for item in items for t in [item.query, *item.positives, *item.negatives]))
        texts += found
        languages += [subset] * len(found)
    return texts, (labels or None), (languages if len(spec.subsets) > 1 else None)


def analyze(
    encoder_or_spec: Encoder | str | Path,
    *,
    texts_file: str | Path | None = None,
    field: str = "text",
    labels_field: str | None = None,
    dataset: str | None = None,
    data_dir=None,
    out: str | Path | None = None,
    k: int = 10,
    cache: bool = True,
) -> dict:
    """Measure the embeddings of a text file or a registered task's texts. With `out`: report.json and PNG
    plots (spectrum, per-dimension mean and spread with rogue dimensions, k-occurrence histogram, 2-D PCA
    coloured by label). Returns the report."""
    from emberta.evaluate import store_for
    from emberta.geometry.hubness import k_occurrence, knn_from_scores
    from emberta.geometry.report import measure_all
    from emberta.geometry.spectrum import spectrum
    from emberta.report import plots
    from emberta.similarity import score_matrix

    if (texts_file is None) == (dataset is None):
        raise OptionError("give either --texts FILE or --dataset TASK")
    languages = None
    if texts_file is not None:
        reader = TextReader(texts_file, field=field)
        records = list(reader)
        texts = [r.text for r in records]
        labels = _labels(texts_file, labels_field, len(texts)) if labels_field else None
    pairs: list[tuple[str, str]] = []
    if texts_file is None:
        texts, labels, languages = task_texts(dataset, data_dir, positives=pairs)
    encoder = encoder_or_spec if isinstance(encoder_or_spec, Encoder) else load_encoder(encoder_or_spec)
    store = store_for(cache)
    try:
        vectors = store.encode(encoder, texts)
    finally:
        store.close()
    report = {"model": encoder.name, "fingerprint": encoder.fingerprint, "source": str(texts_file or dataset)}
    report.update(measure_all(vectors, languages=languages, k=k))
    if pairs:  # alignment (Wang & Isola): mean squared distance of normalised positive pairs
        from emberta.geometry.alignment import alignment_uniformity

        index = {t: i for i, t in enumerate(texts)}
        left = vectors[[index[a] for a, _ in pairs]]
        right = vectors[[index[b] for _, b in pairs]]
        report["alignment_uniformity"]["alignment"] = alignment_uniformity(left, right, max_rows=2).alignment
        report["alignment_uniformity"]["positive_pairs"] = len(pairs)
    if out is not None:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(folder / "report.json", json.dumps(report, indent=2) + "\n")
        rows = _rows(len(vectors))  # the rows measure_all measured
        sample = vectors[rows]
        plots.spectrum_plot(spectrum(sample).singular_values, folder / "spectrum.png")
        plots.dimensions_plot(sample, report["rogue_dimensions"]["rogue"], folder / "dimensions.png")
        neighbours = knn_from_scores(score_matrix(sample, sample), k)
        plots.k_occurrence_plot(k_occurrence(neighbours, len(sample)), k, folder / "k_occurrence.png")
        chosen = labels or languages
        plots.pca_scatter(
            sample, None if chosen is None else np.asarray(chosen)[_rows(len(vectors))], folder / "pca.png"
        )
    return report


def _rows(n: int) -> np.ndarray:
    from emberta.geometry._common import sample_rows
    from emberta.geometry.report import MAX_ROWS

    return sample_rows(n, MAX_ROWS, 0)


def _labels(path, field: str, n: int) -> list[str]:
    labels = [r.text for r in TextReader(path, field=field)]
    if len(labels) != n:
        raise OptionError(f"{path}: {len(labels)} labels for {n} texts")
    return labels


# Definitional pairs of Bolukbasi et al. (2016), used to find the gender direction for HardDebias.
GENDER_PAIRS = [
    ("woman", "man"), ("girl", "boy"), ("she", "he"), ("mother", "father"), ("daughter", "son"),
    ("gal", "guy"), ("female", "male"), ("her", "his"), ("herself", "himself"), ("Mary", "John"),
]  # fmt: skip


def bias_tests(
    encoder_or_spec: Encoder | str | Path, paths: list[Path], *, debias: bool = False, permutations: int = 10_000
) -> list[dict]:
    """WEAT/SEAT effect sizes and permutation p-values of each test file; with debias, also after removing the
    gender direction (HardDebias fitted on GENDER_PAIRS)."""
    from emberta.geometry.bias import weat
    from emberta.transforms.linear import HardDebias

    encoder = encoder_or_spec if isinstance(encoder_or_spec, Encoder) else load_encoder(encoder_or_spec)
    debiaser = None
    if debias:
        words = [w for pair in GENDER_PAIRS for w in pair]
        debiaser = HardDebias().fit(
            encoder.encode(words, show_progress=False), np.repeat(np.arange(len(GENDER_PAIRS)), 2)
        )
    rows = []
    for path in paths:
        test = datasets.read_weat(path)
        sets = [encoder.encode(examples, show_progress=False) for _, examples in (*test.targets, *test.attributes)]
        result = weat(*sets, permutations=permutations)
        row = {"test": test.name, "targets": " vs ".join(c for c, _ in test.targets),
               "attributes": " vs ".join(c for c, _ in test.attributes),
               "effect_size": result.effect_size, "p_value": result.p_value}  # fmt: skip
        if debiaser is not None:
            after = weat(*[debiaser.transform(s) for s in sets], permutations=permutations)
            row |= {"effect_size_debiased": after.effect_size, "p_value_debiased": after.p_value}
        rows.append(row)
    return rows
