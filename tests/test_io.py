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


def test_unsupported_suffix(tmp_path):
    path = tmp_path / "in.docx"
    path.write_text("x")
    with pytest.raises(InputError, match=r"unsupported input format '\.docx'"):
        TextReader(path)


@pytest.mark.parametrize("name", ["empty.txt", "empty.jsonl", "empty.csv", "blank.jsonl"])
def test_empty_file(tmp_path, name):
    path = tmp_path / name
    path.write_text("\n\n" if name == "blank.jsonl" else "", encoding="utf-8")
    with pytest.raises(InputError, match="no texts in the file"):
        read_texts(path)


def test_malformed_json_line_reports_file_and_line(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "ok"}\n{"text": "broken"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"in\.jsonl:2: not valid JSON"):
        read_texts(path)


def test_json_line_that_is_not_an_object(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('["a list"]\n', encoding="utf-8")
    with pytest.raises(InputError, match=r":1: expected a JSON object, got list"):
        read_texts(path)


def test_missing_field(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "a"}\n{"body": "b"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r":2: no field 'text' \(fields: 'body'\); choose the field with --field"):
        read_texts(path)


def test_field_that_is_not_a_string(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": null}\n', encoding="utf-8")
    with pytest.raises(InputError, match="field 'text' is NoneType, not a string"):
        read_texts(path)


def test_missing_id_field(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "a"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"no field 'id'.*--id-field"):
        records(path, id_field="id")


def test_missing_csv_column(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("body,label\nx,1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"in\.csv:1: no column 'text' in the header \(columns: body, label\)"):
        read_texts(path)


def test_csv_row_with_wrong_column_count(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("id,text\n1,a\n2,b,extra\n", encoding="utf-8")
    with pytest.raises(InputError, match=r":3: 3 columns where the header has 2"):
        read_texts(path)


def test_missing_parquet_column_and_nulls(tmp_path):
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"body": ["a", None]}), path)
    with pytest.raises(InputError, match=r"no column 'text' \(columns: body\)"):
        read_texts(path)
    with pytest.raises(InputError, match="row 2: column 'body' is null"):
        read_texts(path, field="body")


def test_not_a_parquet_file(tmp_path):
    path = tmp_path / "in.parquet"
    path.write_text("not parquet")
    with pytest.raises(InputError, match="not a readable parquet file"):
        read_texts(path)


def test_non_utf8_reports_line_and_replace_continues(tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes(b"fine\ncaf\xe9 latin-1\nfine again\n")
    with pytest.raises(InputError, match=r"in\.txt:2: bytes that are not UTF-8 .*--errors replace"):
        read_texts(path)
    reader = TextReader(path, errors="replace")
    texts = [r.text for r in reader]
    assert texts == ["fine", "caf\ufffd latin-1", "fine again"] and reader.replaced_lines == 1


def test_bad_reader_options(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("a\n")
    with pytest.raises(OptionError, match="unknown errors mode"):
        TextReader(path, errors="ignore")
    with pytest.raises(OptionError, match="no ids"):
        TextReader(path, id_field="id")


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
