"""Input readers (every format, every kind of bad input) and atomic vector files."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from emberta import InputError, OptionError, OutputError, read_texts, read_vectors, write_vectors
from emberta.io.readers import TextReader
from emberta.io.vectors import VectorWriter, ids_path, sidecar_path


def records(path, **kwargs):
    return [(r.id, r.text, r.line) for r in TextReader(path, **kwargs)]


def test_txt_one_text_per_line_keeps_empty_lines(tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes("first\r\n\nthird ü\n".encode())
    assert records(path) == [("0", "first", 1), ("1", "", 2), ("2", "third ü", 3)]


def test_jsonl_fields_ids_and_blank_lines(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": 7, "body": "a"}\n\n{"id": "x", "body": "b"}\n', encoding="utf-8")
    assert records(path, field="body", id_field="id") == [("7", "a", 1), ("x", "b", 3)]
    assert records(path, field="body") == [("0", "a", 1), ("1", "b", 3)]


def test_gzipped_jsonl(tmp_path):
    path = tmp_path / "in.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write('{"text": "zipped"}\n')
    assert read_texts(path) == ["zipped"]


def test_csv_and_tsv(tmp_path):
    csv_path = tmp_path / "in.csv"
    csv_path.write_text('id,text\n1,"hello, world"\n2,"two\nlines"\n', encoding="utf-8")
    assert records(csv_path, id_field="id") == [("1", "hello, world", 2), ("2", "two\nlines", 4)]
    tsv_path = tmp_path / "in.tsv"
    tsv_path.write_text("text\tlabel\nsome text\t1\n", encoding="utf-8")
    assert read_texts(tsv_path) == ["some text"]


def test_parquet(tmp_path):
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"doc": ["a", "b"], "key": [10, 11]}), path)
    assert records(path, field="doc", id_field="key") == [("10", "a", 1), ("11", "b", 2)]


def test_limit(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("a\nb\nc\n", encoding="utf-8")
    assert read_texts(path, limit=2) == ["a", "b"]


# ---- bad input ----------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        TextReader(tmp_path / "nope.txt")


def test_unreadable_path_is_a_directory(tmp_path):
    (tmp_path / "dir.txt").mkdir()
    with pytest.raises(InputError, match="not a file"):
        TextReader(tmp_path / "dir.txt")


def parquet_bytes(columns: dict) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(columns), sink)
    return sink.getvalue().to_pybytes()


NO_TEXT_COLUMN = parquet_bytes({"body": ["a", None]})

# (file name, content, reader options, error, message): each file is written, then read to the end
BAD_FILES = [
    ("in.docx", b"x", {}, InputError, r"unsupported input format '\.docx'"),
    ("empty.txt", b"", {}, InputError, "no texts in the file"),
    ("empty.jsonl", b"", {}, InputError, "no texts in the file"),
    ("empty.csv", b"", {}, InputError, "no texts in the file"),
    ("blank.jsonl", b"\n\n", {}, InputError, "no texts in the file"),
    ("in.jsonl", b'{"text": "ok"}\n{"text": "broken"\n', {}, InputError, r"in\.jsonl:2: not valid JSON"),
    ("in.jsonl", b'["a list"]\n', {}, InputError, r":1: expected a JSON object, got list"),
    ("in.jsonl", b'{"text": "a"}\n{"body": "b"}\n', {}, InputError,
     r":2: no field 'text' \(fields: 'body'\); choose the field with --field"),
    ("in.jsonl", b'{"text": null}\n', {}, InputError, "field 'text' is NoneType, not a string"),
    ("in.jsonl", b'{"text": "a"}\n', {"id_field": "id"}, InputError, r"no field 'id'.*--id-field"),
    ("in.csv", b"body,label\nx,1\n", {}, InputError,
     r"in\.csv:1: no column 'text' in the header \(columns: body, label\)"),
    ("in.csv", b"id,text\n1,a\n2,b,extra\n", {}, InputError, r":3: 3 columns where the header has 2"),
    ("in.parquet", NO_TEXT_COLUMN, {}, InputError, r"no column 'text' \(columns: body\)"),
    ("in.parquet", NO_TEXT_COLUMN, {"field": "body"}, InputError, "row 2: column 'body' is null"),
    ("in.parquet", b"not parquet", {}, InputError, "not a readable parquet file"),
    ("in.txt", b"fine\ncaf\xe9 latin-1\nfine again\n", {}, InputError,
     r"in\.txt:2: bytes that are not UTF-8 .*--errors replace"),
    ("in.txt", b"a\n", {"errors": "ignore"}, OptionError, "unknown errors mode"),
    ("in.txt", b"a\n", {"id_field": "id"}, OptionError, "no ids"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "content", "options", "error", "message"), BAD_FILES)
def test_bad_file_names_what_and_where(tmp_path, name, content, options, error, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(error, match=message):
        records(path, **options)


def test_non_utf8_line_is_replaced_on_request(tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes(b"fine\ncaf\xe9 latin-1\nfine again\n")
    reader = TextReader(path, errors="replace")
    texts = [r.text for r in reader]
    assert texts == ["fine", "caf\ufffd latin-1", "fine again"] and reader.replaced_lines == 1


# ---- vector files -------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".npy", ".parquet"])
def test_vector_round_trip_in_blocks(tmp_path, suffix):
    out = tmp_path / f"v{suffix}"
    rng = np.random.default_rng(0)
    blocks = [rng.standard_normal((n, 5)).astype(np.float32) for n in (3, 0, 4)]
    with VectorWriter(out, 5, with_ids=True, metadata={"model": "m"}) as writer:
        for b, block in enumerate(blocks):
            writer.write(block, [f"{b}-{i}" for i in range(len(block))])
    vectors, ids = read_vectors(out)
    np.testing.assert_array_equal(vectors, np.concatenate(blocks))
    assert ids == [f"{b}-{i}" for b, block in enumerate(blocks) for i in range(len(block))]
    sidecar = json.loads(sidecar_path(out).read_text())
    assert sidecar["count"] == 7 and sidecar["dim"] == 5 and sidecar["model"] == "m"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [out.name, sidecar_path(out).name] + ([ids_path(out).name] if suffix == ".npy" else [])
    )


def test_npy_header_is_standard(tmp_path):
    out = tmp_path / "v.npy"
    write_vectors(out, np.ones((2, 3)))
    with open(out, "rb") as handle:
        version = np.lib.format.read_magic(handle)
        assert version == (1, 0)
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
    assert shape == (2, 3) and not fortran and dtype == np.float32
    assert np.load(out, mmap_mode="r").shape == (2, 3)


def test_failed_write_leaves_nothing_and_keeps_old_file(tmp_path):
    out = tmp_path / "v.npy"
    write_vectors(out, np.zeros((1, 2)))
    before = out.read_bytes()
    with pytest.raises(RuntimeError), VectorWriter(out, 2, with_ids=False) as writer:
        writer.write(np.ones((3, 2), dtype=np.float32))
        raise RuntimeError("interrupted")
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.npy", "v.npy.json"]


def test_output_path_errors(tmp_path):
    with pytest.raises(OutputError, match="does not exist; create it"):
        write_vectors(tmp_path / "missing" / "v.npy", np.zeros((1, 2)))
    with pytest.raises(OutputError, match=r"use \.npy or \.parquet"):
        write_vectors(tmp_path / "v.csv", np.zeros((1, 2)))
    with pytest.raises(OutputError, match="shape"):
        VectorWriter(tmp_path / "w.npy", 3, with_ids=False).write(np.zeros((1, 2)))
