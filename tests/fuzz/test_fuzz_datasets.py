"""The evaluation dataset readers (STS, pairs, labelled texts, bitext, reranking, BEIR corpus and folders, WEAT
tests) on valid rows whose fields are replaced by random JSON, then damaged as bytes (and maybe gzipped, maybe
truncated): each returns its data or raises an EmbertaError whose one-line message names the file (the BEIR
folder or a file in it), and the line when it has one; never another exception."""

from __future__ import annotations

import gzip
import json
import tempfile
import warnings
from pathlib import Path

from fuzz_support import budget, damaged, tried
from hypothesis import given
from hypothesis import strategies as st

from emberta.errors import EmbertaError
from emberta.io import datasets

words = st.text(max_size=6) | st.sampled_from(["a", "b", "\\ud800", " "])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | words,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(words, inner, max_size=3),
    max_leaves=6,
)
texts = st.lists(words, max_size=3)
ROWS = {
    "sts": st.fixed_dictionaries({"sentence1": words, "sentence2": words, "score": st.floats(0, 5)}),
    "pairs": st.fixed_dictionaries({"sentence1": words, "sentence2": words, "label": st.sampled_from([0, 1])}),
    "labelled": st.fixed_dictionaries({"text": words, "label": words | st.integers(0, 3)}),
    "bitext": st.fixed_dictionaries({"sentence1": words, "sentence2": words}),
    "reranking": st.fixed_dictionaries({"query": words, "positive": texts, "negative": texts}),
    "corpus": st.fixed_dictionaries({"_id": st.sampled_from(["d1", "d2", 3]), "title": words, "text": words}),
    "queries": st.fixed_dictionaries({"_id": st.sampled_from(["q1", "q2", 4]), "text": words}),
}
READERS = {
    "sts": datasets.read_sts,
    "pairs": datasets.read_pairs,
    "labelled": datasets.read_labelled,
    "bitext": datasets.read_bitext,
    "reranking": datasets.read_reranking,
    "corpus": datasets.read_beir_corpus,
}


@st.composite
def jsonl_bytes(draw, kind: str) -> bytes:
    """Rows of `kind`, some fields replaced by random JSON values (or dropped), as JSON Lines, then damaged."""
    rows = draw(st.lists(ROWS[kind], max_size=6))
    for row in rows:
        if draw(st.integers(0, 3)) == 0:
            key = draw(st.sampled_from(sorted(row)))
            if draw(st.booleans()):
                row[key] = draw(json_values)
            else:
                del row[key]
    data = "".join(json.dumps(row, ensure_ascii=draw(st.booleans())) + "\n" for row in rows).encode()
    return draw(damaged(data)) if draw(st.booleans()) else data


def maybe_gzip(data: bytes, draw) -> tuple[bytes, str]:
    if not draw(st.booleans()):
        return data, ""
    packed = gzip.compress(data, mtime=0)
    return (draw(damaged(packed)) if draw(st.booleans()) else packed), ".gz"


def check_named(call, where: Path, lines: int | None = None) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", datasets.DataWarning)
            call()
    except EmbertaError as exc:
        message = str(exc)
        assert message.startswith(str(where)) and "\n" not in message, message
        line = getattr(exc, "line", None)
        if line is not None and lines is not None:
            assert 1 <= line <= max(lines, 1), (line, message)


@budget()
@given(st.sampled_from(sorted(READERS)), st.data())
def test_dataset_file_reads_or_names_the_file(kind, data):
    tried(f"datasets.{kind}")
    content, suffix = maybe_gzip(data.draw(jsonl_bytes(kind)), data.draw)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{kind}.jsonl{suffix}"
        path.write_bytes(content)
        lines = None if suffix else content.count(b"\n") + 1
        check_named(lambda: READERS[kind](path), path, lines)


@budget(0.3)
@given(st.data())
def test_beir_folder_reads_or_names_the_folder(data):
    tried("datasets.beir")
    qrels = data.draw(
        st.lists(st.tuples(st.sampled_from(["q1", "q2", "4", "x"]), st.sampled_from(["d1", "d2", "3"]), words))
    )
    qrels_text = "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{s}\n" for q, d, s in qrels)
    files = {
        "corpus.jsonl": data.draw(jsonl_bytes("corpus")),
        "queries.jsonl": data.draw(jsonl_bytes("queries")),
        "qrels/test.tsv": data.draw(damaged(qrels_text.encode())) if data.draw(st.booleans()) else qrels_text.encode(),
    }
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "beir"
        (root / "qrels").mkdir(parents=True)
        for name, content in files.items():
            if data.draw(st.integers(0, 9)) > 0:
                (root / name).write_bytes(content)
        check_named(lambda: datasets.read_beir(root, "test"), root)


WEAT_SETS = st.fixed_dictionaries({"category": words, "examples": st.lists(words, min_size=1, max_size=3)})


@budget(0.2)
@given(st.data())
def test_weat_file_reads_or_names_the_file(data):
    tried("datasets.weat")
    spec = data.draw(st.fixed_dictionaries({key: WEAT_SETS for key in ("targ1", "targ2", "attr1", "attr2")}))
    if data.draw(st.booleans()):
        spec[data.draw(st.sampled_from(sorted(spec)))] = data.draw(json_values)
    content = json.dumps(spec).encode()
    content = data.draw(damaged(content)) if data.draw(st.booleans()) else content
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "weat6.jsonl"
        path.write_bytes(content)
        check_named(lambda: datasets.read_weat(path), path, content.count(b"\n") + 1)
