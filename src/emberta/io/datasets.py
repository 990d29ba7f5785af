"""Readers for evaluation datasets (formats of ../shared/datasets/README.md), validating every row.

STS `{"sentence1", "sentence2", "score"}`, pairs `{"sentence1", "sentence2", "label": 0|1}`, labelled texts
`{"text", "label"}` (classification, clustering), BEIR retrieval folders (corpus.jsonl[.gz], queries.jsonl,
qrels/<split>.tsv), reranking `{"query", "positive": [...], "negative": [...]}`, bitext `{"sentence1",
"sentence2"}`. Any .jsonl may be gzipped. Errors name file:line.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from emberta.errors import InputError, OptionError
from emberta.io.jsontext import read_json_file
from emberta.io.lines import LineSource

DATA_ENV = "EMBERTA_DATA"
WEAT_FOLDER = "weat_seat"


class DataWarning(UserWarning):
    """Rows that were skipped because they cannot be used (e.g. qrels naming unknown documents)."""


def data_root(data_dir: str | Path | None) -> Path:
    """--data-dir, else EMBERTA_DATA; an OptionError says how to set them when neither is given."""
    chosen = data_dir or os.environ.get(DATA_ENV)
    if not chosen:
        raise OptionError(f"no data directory: pass --data-dir DIR (data_dir=...) or set {DATA_ENV}")
    return Path(chosen).expanduser()


def dataset_folder(root: Path, folder: str, task: str) -> Path:
    """root/folder, the data of task `task`; an InputError says where it was looked for when it is missing."""
    path = Path(root) / folder
    if not path.is_dir():
        raise InputError(
            f"dataset folder of task {task} not found (looked for {path}); pass --data-dir (or set "
            f"{DATA_ENV}) to the directory that holds {folder}/"
        )
    return path


def weat_test_paths(data_dir: str | Path | None, names: str | list[str]) -> list[Path]:
    """The files of the WEAT/SEAT tests `names` (a comma-separated string or a list, e.g. "weat6,sent-weat7")
    in the data directory's weat_seat/ folder."""
    if isinstance(names, str):
        names = names.split(",")
    folder = data_root(data_dir) / WEAT_FOLDER
    return [folder / f"{name.strip()}.jsonl" for name in names if name.strip()]


@dataclass(frozen=True)
class PairData:
    """Two aligned text columns and one value per pair (a gold score for STS, a 0/1 label for pairs)."""

    sentences1: list[str]
    sentences2: list[str]
    values: list[float]


@dataclass(frozen=True)
class LabelledTexts:
    texts: list[str]
    labels: list[str]
    lines: list[int]


@dataclass(frozen=True)
class RetrievalData:
    """A BEIR split: documents (id -> title + " " + text, stripped), queries with at least one judgement
    (id -> text), qrels (query id -> {document id: relevance})."""

    corpus: dict[str, str]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


@dataclass(frozen=True)
class RerankingItem:
    query: str
    positives: list[str]
    negatives: list[str]


def _rows(path: Path):
    rows = list(LineSource(path).json_objects())
    if not rows:
        raise InputError("the file has no rows (it is empty)", path=path)
    return rows


def _text(obj: dict, field: str, path: Path, line: int) -> str:
    if field not in obj:
        fields = ", ".join(map(repr, obj)) or "none"
        raise InputError(f"no field {field!r} (fields: {fields})", path=path, line=line)
    value = obj[field]
    if not isinstance(value, str):
        raise InputError(f"field {field!r} is {type(value).__name__}, not a string", path=path, line=line)
    return value


def _number(obj: dict, field: str, path: Path, line: int) -> float:
    if field not in obj:
        raise InputError(f"no field {field!r}", path=path, line=line)
    value = obj[field]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"field {field!r} must be a finite number, got {value!r}", path=path, line=line)
    return float(value)


def read_sts(*paths: Path) -> PairData:
    """STS pairs from one or more files (concatenated in order)."""
    s1, s2, scores = [], [], []
    for path in paths:
        for line, obj in _rows(path):
            s1.append(_text(obj, "sentence1", path, line))
            s2.append(_text(obj, "sentence2", path, line))
            scores.append(_number(obj, "score", path, line))
    return PairData(s1, s2, scores)


def read_pairs(*paths: Path) -> PairData:
    """Pair-classification pairs; labels must be 0 or 1."""
    s1, s2, labels = [], [], []
    for path in paths:
        for line, obj in _rows(path):
            s1.append(_text(obj, "sentence1", path, line))
            s2.append(_text(obj, "sentence2", path, line))
            label = obj.get("label")
            if label not in (0, 1) or isinstance(label, bool):
                raise InputError(f"field 'label' must be 0 or 1, got {label!r}", path=path, line=line)
            labels.append(int(label))
    if len(set(labels)) < 2:
        raise InputError("pair classification needs both labels 0 and 1 among the pairs", path=paths[0])
    return PairData(s1, s2, [float(x) for x in labels])


def read_labelled(path: Path, text_field: str = "text", label_field: str = "label") -> LabelledTexts:
    """Texts with a label each (label names; integers are read as their decimal string)."""
    texts, labels, lines = [], [], []
    for line, obj in _rows(path):
        texts.append(_text(obj, text_field, path, line))
        label = obj.get(label_field)
        if isinstance(label, bool) or not isinstance(label, (str, int)):
            raise InputError(
                f"field {label_field!r} must be a string or an integer, got {label!r}", path=path, line=line
            )
        labels.append(str(label))
        lines.append(line)
    return LabelledTexts(texts, labels, lines)


def read_bitext(path: Path) -> PairData:
    """Aligned sentences: row i of sentence1 translates row i of sentence2."""
    s1, s2 = [], []
    for line, obj in _rows(path):
        s1.append(_text(obj, "sentence1", path, line))
        s2.append(_text(obj, "sentence2", path, line))
    return PairData(s1, s2, [])


def read_reranking(path: Path) -> list[RerankingItem]:
    """Queries with their candidate lists; items lacking positives or negatives are skipped (as MTEB does)."""
    items, skipped = [], 0
    for line, obj in _rows(path):
        query = _text(obj, "query", path, line)
        lists = {}
        for field in ("positive", "negative"):
            value = obj.get(field)
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InputError(f"field {field!r} must be a list of strings", path=path, line=line)
            lists[field] = value
        if not lists["positive"] or not lists["negative"]:
            skipped += 1
            continue
        items.append(RerankingItem(query, lists["positive"], lists["negative"]))
    if skipped:
        warnings.warn(
            DataWarning(f"{path}: skipped {skipped} queries without both positives and negatives"), stacklevel=2
        )
    if not items:
        raise InputError("no query has both positive and negative candidates", path=path)
    return items


def read_beir(folder: Path, split: str = "test") -> RetrievalData:
    """A BEIR retrieval folder. Qrels naming unknown documents or queries are counted, warned about and skipped;
    queries without any judgement are dropped (as MTEB does; queries judged only 0 stay and score 0)."""
    folder = Path(folder)
    corpus_path = _first_existing(folder, ["corpus.jsonl", "corpus.jsonl.gz"])
    queries_path = _first_existing(folder, ["queries.jsonl", "queries.jsonl.gz"])
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        raise InputError(f"no qrels for split {split!r}; expected a BEIR folder with qrels/{split}.tsv", path=folder)

    corpus = read_beir_corpus(corpus_path)
    all_queries = {
        _id(obj, queries_path, line): _text(obj, "text", queries_path, line) for line, obj in _rows(queries_path)
    }

    qrels: dict[str, dict[str, int]] = {}
    unknown_docs = unknown_queries = 0
    lines = list(LineSource(qrels_path).lines())
    if not lines or lines[0][1].split("\t")[:3] != ["query-id", "corpus-id", "score"]:
        raise InputError("expected the header 'query-id<TAB>corpus-id<TAB>score'", path=qrels_path, line=1)
    for line, text in lines[1:]:
        if not text.strip():
            continue
        parts = text.split("\t")
        if len(parts) < 3:
            raise InputError("expected query-id<TAB>corpus-id<TAB>score", path=qrels_path, line=line)
        try:
            relevance = int(float(parts[2]))
        except ValueError:
            raise InputError(f"score {parts[2]!r} is not a number", path=qrels_path, line=line) from None
        query_id, doc_id = parts[0], parts[1]
        if doc_id not in corpus:
            unknown_docs += 1
            continue
        if query_id not in all_queries:
            unknown_queries += 1
            continue
        qrels.setdefault(query_id, {})[doc_id] = relevance
    if unknown_docs or unknown_queries:
        warnings.warn(
            DataWarning(
                f"{qrels_path}: skipped {unknown_docs} qrels naming documents absent from {corpus_path.name} and "
                f"{unknown_queries} naming queries absent from {queries_path.name}"
            ),
            stacklevel=2,
        )
    if not any(r > 0 for docs in qrels.values() for r in docs.values()):
        raise InputError("no query has a relevant document in the corpus", path=qrels_path)
    queries = {q: all_queries[q] for q in all_queries if q in qrels}
    return RetrievalData(corpus, queries, qrels)


def read_beir_corpus(path: Path) -> dict[str, str]:
    """{doc id: "title text"} of a BEIR corpus file, or of the corpus.jsonl(.gz) in a BEIR folder."""
    path = Path(path)
    corpus_path = _first_existing(path, ["corpus.jsonl", "corpus.jsonl.gz"]) if path.is_dir() else path
    corpus = {}
    for line, obj in _rows(corpus_path):
        doc_id = _id(obj, corpus_path, line)
        title = obj.get("title") or ""
        if not isinstance(title, str):
            raise InputError("field 'title' must be a string", path=corpus_path, line=line)
        text = _text(obj, "text", corpus_path, line)
        corpus[doc_id] = (title + " " + text).strip() if title else text.strip()
    return corpus


def _id(obj: dict, path: Path, line: int) -> str:
    value = obj.get("_id")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InputError("field '_id' must be a string or an integer", path=path, line=line)
    return str(value)


def _first_existing(folder: Path, names: list[str]) -> Path:
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise InputError(f"missing {' or '.join(names)}; expected a BEIR folder", path=folder)


@dataclass(frozen=True)
class WeatTest:
    """A WEAT/SEAT test: two target sets and two attribute sets, each (category name, examples)."""

    name: str
    targets: tuple[tuple[str, list[str]], tuple[str, list[str]]]
    attributes: tuple[tuple[str, list[str]], tuple[str, list[str]]]


def read_weat(path: Path) -> WeatTest:
    """A sent-bias test file: one JSON object with targ1, targ2, attr1, attr2 = {"category", "examples"}."""
    path = Path(path)
    spec = read_json_file(path)
    sets = []
    for key in ("targ1", "targ2", "attr1", "attr2"):
        entry = spec.get(key) if isinstance(spec, dict) else None
        examples = entry.get("examples") if isinstance(entry, dict) else None
        if not isinstance(examples, list) or not examples or not all(isinstance(e, str) for e in examples):
            raise InputError(f'{key!r} must be {{"category": ..., "examples": [strings]}}', path=path)
        sets.append((str(entry.get("category", key)), examples))
    name = path.name.removesuffix(".jsonl").removesuffix(".json")
    return WeatTest(name, (sets[0], sets[1]), (sets[2], sets[3]))
