"""Training data, checked line by line with file:line errors:

    pairs         {"anchor": "...", "positive": "..."}                      (JSONL)
    triplets      {"anchor": "...", "positive": "...", "negative": "..."}   (JSONL)
    scored pairs  {"sentence1": "...", "sentence2": "...", "score": 4.2}    (JSONL)
    texts         {"text": "..."} (JSONL) or a .txt file, one text per line (SimCSE, distillation)
    BEIR folder   queries + corpus + qrels/<split>.tsv: one (query, relevant document) pair per judgement > 0

A JSONL file's format is taken from its first line's fields; every line must have the same ones.
"""

from __future__ import annotations

from pathlib import Path

from emberta.errors import InputError
from emberta.io.lines import LineSource

FORMATS = {
    "pairs": ("anchor", "positive"),
    "triplets": ("anchor", "positive", "negative"),
    "scored": ("sentence1", "sentence2", "score"),
    "texts": ("text",),
}


def read_training_data(path: str | Path, beir_split: str = "train") -> tuple[str, dict[str, list]]:
    """(format name, columns) of one training source: a JSONL or .txt file, or a BEIR folder (its `beir_split`
    qrels become pairs). columns maps each field to its values in file order."""
    path = Path(path)
    if path.is_dir():
        return "pairs", beir_pairs(path, beir_split)
    if not path.is_file():
        raise InputError("no such training file or BEIR folder; check the path", path=path)
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".txt"):
        texts = [line.strip() for _, line in LineSource(path).lines() if line.strip()]
        if not texts:
            raise InputError("the text file is empty; expected one text per line", path=path)
        return "texts", {"text": texts}
    return read_training_file(path)


def read_training_file(path: str | Path) -> tuple[str, dict[str, list]]:
    """(format name, columns) of a JSONL training file."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such training file; check the path", path=path)
    kind, columns = None, {}
    for number, obj in LineSource(path).json_objects():
        if kind is None:
            kind = _format_of(obj, path, number)
            columns = {field: [] for field in FORMATS[kind]}
        for field in FORMATS[kind]:
            if field not in obj:
                raise InputError(f"no field {field!r}; every line of a {kind} file needs "
                                 f"{', '.join(FORMATS[kind])}", path=path, line=number)  # fmt: skip
            value = obj[field]
            if field == "score":
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise InputError(f"'score' is {type(value).__name__}, not a number", path=path, line=number)
                value = float(value)
            elif not isinstance(value, str) or not value.strip():
                raise InputError(f"{field!r} must be a non-empty string", path=path, line=number)
            columns[field].append(value)
    if kind is None:
        raise InputError("the training file is empty; expected one JSON object per line", path=path)
    return kind, columns


def beir_pairs(folder: Path, split: str = "train") -> dict[str, list]:
    """{"anchor": query texts, "positive": document texts}: one pair per qrel with relevance > 0 (a query with
    several relevant documents appears once per document; hard-negative mining treats them all as positives)."""
    from emberta.io.datasets import read_beir

    data = read_beir(folder, split)
    anchors, positives = [], []
    for query_id, judged in data.qrels.items():
        for doc_id, relevance in judged.items():
            if relevance > 0:
                anchors.append(data.queries[query_id])
                positives.append(data.corpus[doc_id])
    return {"anchor": anchors, "positive": positives}


def read_corpus(path: str | Path) -> list[str]:
    """Candidate texts for hard-negative mining: a BEIR folder's corpus (title + text), a JSONL file with
    "text" (and optional "title") fields, or a .txt file with one text per line. Duplicates are kept once."""
    from emberta.io.datasets import read_beir_corpus
    from emberta.io.readers import read_texts

    path = Path(path)
    beir_file = path.name.lower().removesuffix(".gz").endswith(".jsonl") and _is_beir_corpus(path)
    texts = list(read_beir_corpus(path).values()) if path.is_dir() or beir_file else read_texts(path)
    texts = list(dict.fromkeys(t for t in texts if t.strip()))
    if not texts:
        raise InputError("no texts to mine negatives from", path=path)
    return texts


def _is_beir_corpus(path: Path) -> bool:
    for _, obj in LineSource(path).json_objects():
        return "_id" in obj
    return False


def _format_of(obj: dict, path: Path, number: int) -> str:
    fields = set(obj)
    for kind in ("triplets", "pairs", "scored", "texts"):
        if set(FORMATS[kind]) <= fields:
            return kind
    expected = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in FORMATS.items())
    raise InputError(f"cannot tell the format from the fields {sorted(fields)} (expected {expected})", path=path,
                     line=number)  # fmt: skip
