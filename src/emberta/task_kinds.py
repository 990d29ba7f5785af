"""What each task type reads and scores: one registry, `KINDS`, that evaluation (scores) and analyze (the texts
of a task) share. For each type: `read` turns a subset's files into data (io), `score` embeds the data's texts
and scores them (tasks), `texts` lists the data's distinct texts for the geometry report.

Each `score` imports its task module (scikit-learn, scipy) when it runs, so `import emberta` stays fast.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from emberta.errors import InputError
from emberta.io import datasets
from emberta.tasks.registry import (
    BITEXT_MINING,
    CLASSIFICATION,
    CLUSTERING,
    PAIR_CLASSIFICATION,
    RERANKING,
    RETRIEVAL,
    STS,
    TOKEN_CLASSIFICATION,
    TaskSpec,
)

if TYPE_CHECKING:
    from emberta.evaluation import TaskEmbedder


@dataclass(frozen=True)
class Subset:
    """One subset of a task as files: `paths`, the files of its evaluation split, and for classification
    `train`, its training file."""

    spec: TaskSpec
    name: str
    paths: list[Path]
    train: Path | None = None


@dataclass(frozen=True)
class SubsetTexts:
    """The distinct texts of a subset, a label per text where the data has labels, and the (text, text) pairs
    that mean the same (STS pairs scored >= 4 of 5, positive pairs, translations)."""

    texts: list[str]
    labels: list[str] | None = None
    positives: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class TaskKind:
    """read(subset) -> data; score(data, embedder) -> metrics; texts(data) -> SubsetTexts. `read_texts`, when
    given, reads a subset's texts with less than `read` needs (classification: the test file only)."""

    read: Callable[[Subset], Any]
    score: Callable[[Any, TaskEmbedder], dict]
    texts: Callable[[Any], SubsetTexts]
    read_texts: Callable[[Subset], SubsetTexts] | None = None

    def subset_texts(self, subset: Subset) -> SubsetTexts:
        """The texts of one subset, for measuring the embedding space (no scoring)."""
        return self.read_texts(subset) if self.read_texts else self.texts(self.read(subset))


def subsets(spec: TaskSpec, folder: Path) -> list[Subset]:
    """The subsets of `spec` with their files under `folder` (an absolute training path, as ad-hoc
    classification tasks have, stays as it is)."""
    return [
        Subset(spec, name, [folder / f for f in files], folder / spec.train[name] if name in spec.train else None)
        for name, files in spec.subsets.items()
    ]


# ---- pairs: STS, pair classification, bitext mining --------------------------------------------------------
def _pair_vectors(data: datasets.PairData, embed: TaskEmbedder) -> tuple[np.ndarray, np.ndarray]:
    vectors = embed(data.sentences1 + data.sentences2)
    return vectors[: len(data.sentences1)], vectors[len(data.sentences1) :]


def _score_sts(data: datasets.PairData, embed: TaskEmbedder) -> dict:
    from emberta.tasks import sts

    a, b = _pair_vectors(data, embed)
    a, b = embed.adapt(np.concatenate([a, b]), a, b)
    return sts.evaluate_sts(a, b, data.values, embed.similarity_fn)


def _score_pairs(data: datasets.PairData, embed: TaskEmbedder) -> dict:
    from emberta.tasks import pair_classification

    a, b = _pair_vectors(data, embed)
    a, b = embed.adapt(np.concatenate([a, b]), a, b)
    return pair_classification.evaluate_pair_classification(a, b, data.values, embed.similarity_fn)


def _score_bitext(data: datasets.PairData, embed: TaskEmbedder) -> dict:
    from emberta.tasks import bitext

    a, b = _pair_vectors(data, embed)
    return bitext.evaluate_bitext(a, b, embed.similarity_fn, scorer=embed.scorer(np.concatenate([a, b])))


def _pair_texts(same_meaning: Callable[[float], bool]) -> Callable[[datasets.PairData], SubsetTexts]:
    def texts(data: datasets.PairData) -> SubsetTexts:
        values = data.values or [1.0] * len(data.sentences1)
        pairs = zip(data.sentences1, data.sentences2, values, strict=True)
        return SubsetTexts(
            list(dict.fromkeys(data.sentences1 + data.sentences2)),
            positives=[(a, b) for a, b, value in pairs if same_meaning(value)],
        )

    return texts


# ---- labelled texts: classification, clustering ------------------------------------------------------------
@dataclass(frozen=True)
class ClassificationData:
    train: datasets.LabelledTexts
    test: datasets.LabelledTexts


def _read_classification(subset: Subset) -> ClassificationData:
    train = datasets.read_labelled(subset.train, subset.spec.text_field)
    test = datasets.read_labelled(subset.paths[0], subset.spec.text_field)
    known = set(train.labels)
    for label, line in zip(test.labels, test.lines, strict=True):
        if label not in known:
            raise InputError(
                f"label {label!r} does not occur in the training file {subset.train}; "
                "a classifier cannot predict it (fix the label or add training rows for it)",
                path=subset.paths[0],
                line=line,
            )
    return ClassificationData(train, test)


def _score_classification(data: ClassificationData, embed: TaskEmbedder) -> dict:
    from emberta.tasks import classification

    train, test = data.train, data.test
    spec = embed.spec
    experiments = classification.undersample_experiments(train.labels, spec.samples_per_label, spec.n_experiments)
    union = sorted(set().union(*experiments))
    vectors = embed([train.texts[i] for i in union] + test.texts)
    union_vectors, test_vectors = embed.adapt(vectors[: len(union)], vectors[: len(union)], vectors[len(union) :])
    train_vectors = np.zeros((len(train.texts), union_vectors.shape[1]), dtype=np.float32)
    train_vectors[union] = union_vectors
    return classification.evaluate_classification(train_vectors, train.labels, test_vectors, test.labels, experiments)


def _read_labelled(subset: Subset) -> tuple[datasets.LabelledTexts, Path]:
    """The labelled texts of the subset's (test) file, and the file."""
    return datasets.read_labelled(subset.paths[0], subset.spec.text_field), subset.paths[0]


def _labelled_texts(data: tuple[datasets.LabelledTexts, Path]) -> SubsetTexts:
    return SubsetTexts(data[0].texts, data[0].labels)


def _score_clustering(data: tuple[datasets.LabelledTexts, Path], embed: TaskEmbedder) -> dict:
    from emberta.tasks import clustering

    texts, path = data
    rng = random.Random(clustering.SEED)
    rows = clustering.sample_documents(len(texts.texts), rng)
    if len(rows) < 2:
        raise InputError(
            f"{len(texts.texts)} documents are too few: clustering embeds a 4% sample and needs 2 or more", path=path
        )
    vectors = embed([texts.texts[i] for i in rows])
    (vectors,) = embed.adapt(vectors, vectors)
    return clustering.evaluate_clustering(vectors, [texts.labels[i] for i in rows], rng)


# ---- search: retrieval, reranking --------------------------------------------------------------------------
def _score_retrieval(data: datasets.RetrievalData, embed: TaskEmbedder) -> dict:
    from emberta.tasks import retrieval

    doc_ids, query_ids = list(data.corpus), list(data.queries)
    doc_texts, query_texts = [data.corpus[d] for d in doc_ids], [data.queries[q] for q in query_ids]
    doc_vectors = embed(doc_texts, "document")
    query_vectors = embed(query_texts, "query")
    if embed.index_backend is not None:
        from emberta.index.evaluation import index_search_run

        run = index_search_run(doc_ids, doc_texts, doc_vectors, query_ids, query_texts, query_vectors,
                               backend=embed.index_backend, mode=embed.search_mode)  # fmt: skip
    else:
        run = retrieval.search(query_vectors, doc_vectors, doc_ids, query_ids, similarity_fn=embed.similarity_fn,
                               scorer=embed.scorer(doc_vectors))  # fmt: skip
    return retrieval.retrieval_metrics(run, data.qrels)


def _score_reranking(items: list[datasets.RerankingItem], embed: TaskEmbedder) -> dict:
    from emberta.tasks import reranking

    query_vectors = embed([item.query for item in items], "query")
    candidates = [c.strip() for item in items for c in item.positives + item.negatives]  # MTEB strips documents
    candidate_vectors = embed(candidates, "document")
    query_vectors, candidate_vectors = embed.adapt(candidate_vectors, query_vectors, candidate_vectors)
    per_query, start = [], 0
    for item in items:
        n = len(item.positives) + len(item.negatives)
        per_query.append(candidate_vectors[start : start + n])
        start += n
    n_positives = [len(item.positives) for item in items]
    return reranking.evaluate_reranking(query_vectors, per_query, n_positives, similarity_fn=embed.similarity_fn)


def _reranking_texts(items: list[datasets.RerankingItem]) -> SubsetTexts:
    return SubsetTexts(list(dict.fromkeys(t for item in items for t in [item.query, *item.positives, *item.negatives])))


def _read_retrieval(subset: Subset) -> datasets.RetrievalData:
    return datasets.read_beir(subset.paths[0], subset.spec.split)


# ---- tagged words: token classification -------------------------------------------------------------------
@dataclass(frozen=True)
class TaggedData:
    train: Any  # emberta.classify.tagging.TaggedSentences
    test: Any


def _read_tagged(subset: Subset) -> TaggedData:
    from emberta.classify.tagging.data import read_tagged

    train = read_tagged(subset.train)
    return TaggedData(train, read_tagged(subset.paths[0], scheme=train.scheme))


def _score_tagged(data: TaggedData, embed: TaskEmbedder) -> dict:
    """A linear probe on the encoder's frozen token vectors (tasks.token_classification)."""
    from emberta.classify.tagging.probe import word_vectors
    from emberta.errors import NotApplicable
    from emberta.tasks import token_classification

    if embed.post is not None:
        raise NotApplicable(f"{embed.post.name}: post-processing applies to sentence embeddings, not token vectors")
    vectors = word_vectors(embed.encoder.folder.spec, data.train.tokens + data.test.tokens, batch_size=embed.batch_size)
    n = len(data.train.tokens)
    return token_classification.evaluate_token_probe(vectors[:n], data.train.tags, vectors[n:], data.test.tags,
                                                     data.train.scheme)  # fmt: skip


def _tagged_texts(subset: Subset) -> SubsetTexts:
    from emberta.classify.tagging.data import read_tagged

    return SubsetTexts([" ".join(words) for words in read_tagged(subset.paths[0]).tokens])


KINDS: dict[str, TaskKind] = {
    STS: TaskKind(lambda s: datasets.read_sts(*s.paths), _score_sts, _pair_texts(lambda score: score >= 4.0)),
    PAIR_CLASSIFICATION: TaskKind(
        lambda s: datasets.read_pairs(*s.paths), _score_pairs, _pair_texts(lambda label: label == 1)
    ),
    BITEXT_MINING: TaskKind(lambda s: datasets.read_bitext(s.paths[0]), _score_bitext, _pair_texts(lambda _: True)),
    CLASSIFICATION: TaskKind(
        _read_classification,
        _score_classification,
        lambda d: SubsetTexts(d.test.texts, d.test.labels),
        read_texts=lambda s: _labelled_texts(_read_labelled(s)),
    ),
    CLUSTERING: TaskKind(_read_labelled, _score_clustering, lambda d: _labelled_texts(d)),
    RETRIEVAL: TaskKind(_read_retrieval, _score_retrieval, lambda d: SubsetTexts(list(d.corpus.values()))),
    RERANKING: TaskKind(lambda s: datasets.read_reranking(s.paths[0]), _score_reranking, _reranking_texts),
    TOKEN_CLASSIFICATION: TaskKind(
        _read_tagged,
        _score_tagged,
        lambda d: SubsetTexts([" ".join(words) for words in d.test.tokens]),
        read_texts=_tagged_texts,
    ),
}
