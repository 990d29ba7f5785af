"""`emberta analyze`: encode a set of texts (a file, or a registered task's texts), measure the geometry of the
embeddings, write report.json and PNG plots."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emberta.cache import open_store
from emberta.encoders import Encoder, load_encoder
from emberta.errors import InputError, OptionError
from emberta.geometry.alignment import alignment
from emberta.geometry.hubness import hubness, k_occurrence, knn_from_scores
from emberta.geometry.report import measure_all, plain, sample_indices
from emberta.geometry.spectrum import spectrum
from emberta.io import datasets
from emberta.io.atomic import write_text_atomic
from emberta.io.datasets import data_root, dataset_folder
from emberta.io.readers import TextReader
from emberta.similarity import score_matrix
from emberta.task_kinds import KINDS, subsets
from emberta.tasks.registry import DEFAULT_BIAS_TESTS, get_task
from emberta.transforms.hubness import HubnessReduction


@dataclass(frozen=True)
class TaskTexts:
    """The texts of a registered task, with a label per text (classification, clustering), a language per text
    (multilingual tasks) and the (text, text) pairs that mean the same (STS pairs scored >= 4 of 5, positive
    pairs, translations)."""

    texts: list[str]
    labels: list[str] | None
    languages: list[str] | None
    positives: list[tuple[str, str]]


def task_texts(name: str, data_dir) -> TaskTexts:
    """The texts of the registered task `name`: sentences of STS, pair and bitext tasks, texts of
    classification and clustering tests, a retrieval corpus, reranking queries and candidates."""
    spec = get_task(name)
    folder = dataset_folder(data_root(data_dir), spec.folder, spec.name)
    kind = KINDS[spec.type]
    texts, labels, languages, positives = [], [], [], []
    for subset in subsets(spec, folder):
        found = kind.subset_texts(subset)
        texts += found.texts
        labels += found.labels or []
        languages += [subset.name] * len(found.texts)
        positives += found.positives
    return TaskTexts(texts, labels or None, languages if len(spec.subsets) > 1 else None, positives)


def _file_texts(path: str | Path, field: str, labels_field: str | None, format: str | None) -> TaskTexts:
    """The texts of an input file or standard input ("-", in `format`), read once; with labels_field, each
    text's label is the same record's value of that field (a string)."""
    meta = [labels_field] if labels_field else None
    with TextReader(path, format=format, field=field, meta_fields=meta, meta_option="--labels") as reader:
        records = list(reader)
    for record in records if labels_field else []:
        label = record.meta[labels_field]
        if not isinstance(label, str):
            what = "missing" if label is None else f"{type(label).__name__}, not a string"
            raise InputError(f"label field {labels_field!r} is {what}; give every text a string label or choose "
                             "another field with --labels", path=reader.name, line=record.line)  # fmt: skip
    labels = [record.meta[labels_field] for record in records] if labels_field else None
    return TaskTexts([record.text for record in records], labels, None, [])


def analyze(
    encoder_or_spec: Encoder | str | Path,
    *,
    texts_file: str | Path | None = None,
    field: str = "text",
    labels_field: str | None = None,
    format: str | None = None,
    dataset: str | None = None,
    data_dir=None,
    out: str | Path | None = None,
    k: int = 10,
    cache: bool = True,
) -> dict:
    """Measure the embeddings of a text file ("-": standard input, in `format`, which also overrides a file's
    suffix) or a registered task's texts: every measure of geometry.report.measure_all, hubness after mutual
    proximity and local scaling, and for a task with same-meaning pairs their alignment. With `out`: report.json
    and PNG plots (spectrum, per-dimension mean and spread with rogue dimensions, k-occurrence histogram, 2-D PCA
    coloured by label). Returns the report."""
    if (texts_file is None) == (dataset is None):
        raise OptionError("give either --texts FILE or --dataset TASK")
    if texts_file is not None:
        source = _file_texts(texts_file, field, labels_field, format)
    else:
        source = task_texts(dataset, data_dir)
    encoder = encoder_or_spec if isinstance(encoder_or_spec, Encoder) else load_encoder(encoder_or_spec)
    with open_store(cache) as store:
        vectors = store.encode(encoder, source.texts)
    report = {"model": encoder.name, "fingerprint": encoder.fingerprint, "source": str(texts_file or dataset)}
    report.update(measure_all(vectors, languages=source.languages, k=k))
    sample = vectors[sample_indices(len(vectors))]
    for method in ("mp", "ls"):  # hubness after mutual proximity and local scaling (Feldbauer et al. 2018)
        reducer = HubnessReduction(method=method, k=k).fit(sample)
        report[f"hubness_{method}"] = plain(hubness(scores=reducer.scores(sample, sample), k=k))
    if source.positives:  # alignment (Wang & Isola): mean squared distance of normalised positive pairs
        row = {t: i for i, t in enumerate(source.texts)}
        left = vectors[[row[a] for a, _ in source.positives]]
        right = vectors[[row[b] for _, b in source.positives]]
        report["alignment_uniformity"]["alignment"] = alignment(left, right)
        report["alignment_uniformity"]["positive_pairs"] = len(source.positives)
    if out is not None:
        _write_report(report, vectors, source.labels or source.languages, Path(out), k)
    return report


def _write_report(report: dict, vectors: np.ndarray, labels: list[str] | None, folder: Path, k: int) -> None:
    """report.json and the PNG plots, drawn from the rows measure_all measured."""
    from emberta.report import plots

    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(folder / "report.json", json.dumps(report, indent=2) + "\n")
    rows = sample_indices(len(vectors))
    sample = vectors[rows]
    plots.spectrum_plot(spectrum(sample).singular_values, folder / "spectrum.png")
    plots.dimensions_plot(sample, report["rogue_dimensions"]["rogue"], folder / "dimensions.png")
    neighbours = knn_from_scores(score_matrix(sample, sample), k)
    plots.k_occurrence_plot(k_occurrence(neighbours, len(sample)), k, folder / "k_occurrence.png")
    plots.pca_scatter(sample, None if labels is None else np.asarray(labels)[rows], folder / "pca.png")


# Definitional pairs of Bolukbasi et al. (2016), used to find the gender direction for HardDebias.
GENDER_PAIRS = [
    ("woman", "man"), ("girl", "boy"), ("she", "he"), ("mother", "father"), ("daughter", "son"),
    ("gal", "guy"), ("female", "male"), ("her", "his"), ("herself", "himself"), ("Mary", "John"),
]  # fmt: skip


def bias_tests(
    encoder_or_spec: Encoder | str | Path,
    tests: str | Path | Sequence[str | Path] = DEFAULT_BIAS_TESTS,
    *,
    data_dir=None,
    debias: bool = False,
    permutations: int = 10_000,
) -> list[dict]:
    """WEAT/SEAT effect sizes and permutation p-values of each test, a row per test; with debias, also after
    removing the gender direction (HardDebias fitted on GENDER_PAIRS). tests: names of files in the data
    directory's weat_seat/ folder, comma-separated or a list (e.g. "weat6,sent-weat7"); pathlib.Path entries
    are test files used as they are (no data directory needed). Every file is read and checked before the model
    loads."""
    from emberta.geometry.bias import weat
    from emberta.transforms.linear import HardDebias

    paths = _bias_test_paths(data_dir, tests)
    if not paths:
        raise OptionError(f"no bias test named ({tests!r}); name files of weat_seat/, e.g. --tests weat6,sent-weat7")
    loaded = [datasets.read_weat(path) for path in paths]
    encoder = encoder_or_spec if isinstance(encoder_or_spec, Encoder) else load_encoder(encoder_or_spec)
    debiaser = None
    if debias:
        words = [w for pair in GENDER_PAIRS for w in pair]
        debiaser = HardDebias().fit(
            encoder.encode(words, show_progress=False), np.repeat(np.arange(len(GENDER_PAIRS)), 2)
        )
    rows = []
    for test in loaded:
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


def _bias_test_paths(data_dir, tests: str | Path | Sequence[str | Path]) -> list[Path]:
    """Path entries as given; strings (each may be comma-separated) are names looked up in weat_seat/."""
    paths = []
    for test in [tests] if isinstance(tests, (str, Path)) else tests:
        paths += [test] if isinstance(test, Path) else datasets.weat_test_paths(data_dir, test)
    return paths
