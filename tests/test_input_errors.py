"""Regressions found by fuzzing the parsers (issue 18): every malformed input is one EmbertaError naming the
file (and line), never a traceback and never silently accepted; the CLI exits 2 with one line and no output."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from emberta import InputError, read_vectors, write_vectors
from emberta.cli.main import app
from emberta.io.datasets import read_sts, read_weat
from emberta.io.readers import TextReader

DEEP = "[" * 5000 + "]" * 5000
GOOD_JSONL = '{"text": "a"}\n{"text": "b"}\n'


def texts(path, **options) -> list[tuple[str, int]]:
    return [(r.text, r.line) for r in TextReader(path, **options)]


# ---- JSON nested deeper than the parser's recursion limit, or numbers too long to convert -------------------
@pytest.mark.parametrize("value", [DEEP, '{"a": ' * 3000 + "1" + "}" * 3000, "1" * 5000])
def test_jsonl_line_that_json_cannot_parse_names_file_and_line(tmp_path, value):
    path = tmp_path / "deep.jsonl"
    path.write_text(GOOD_JSONL + value + "\n")
    with pytest.raises(InputError, match=r"deep\.jsonl:3: ") as caught:
        texts(path)
    assert "Traceback" not in str(caught.value) and len(str(caught.value).splitlines()) == 1


def test_dataset_row_nested_too_deeply_names_file_and_line(tmp_path):
    path = tmp_path / "sts.jsonl"
    path.write_text('{"sentence1": "a", "sentence2": "b", "score": 1}\n' + DEEP + "\n")
    with pytest.raises(InputError, match=r"sts\.jsonl:2: JSON nested too deeply"):
        read_sts(path)


def test_weat_file_nested_too_deeply(tmp_path):
    path = tmp_path / "weat.jsonl"
    path.write_text(DEEP)
    with pytest.raises(InputError, match=r"weat\.jsonl: JSON nested too deeply"):
        read_weat(path)


# ---- CSV: a quote that never closes ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "content", "line"),
    [
        ("end.csv", 'id,text\n1,ok\n2,"unterminated quote', 3),
        ("end-newline.csv", 'id,text\n1,ok\n2,"unterminated quote\nand more\nlines\n', 3),
        ("after-multiline.csv", 'id,text\n1,"two\nlines",\n', None),
        ("second-field.csv", 'id,text\n1,"closed\nhere" \n', None),
        ("end.tsv", 'id\ttext\n1\tok\n2\t"unterminated\tquote\n', 3),
    ],
)
def test_csv_unclosed_quote_names_the_line_it_opened(tmp_path, name, content, line):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InputError) as caught:
        texts(path)
    if line is not None:
        assert str(caught.value).startswith(f"{path}:{line}: a quoted field opens here and is never closed")


def test_csv_quote_opening_on_a_later_line_of_the_record(tmp_path):
    path = tmp_path / "later.csv"
    path.write_text('id,text,note\n1,"one\ntwo","three\nfour\n')
    with pytest.raises(InputError, match=r"later\.csv:3: a quoted field opens here"):
        texts(path)


def test_csv_multiline_quoted_field_still_reads(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text('id,text\n1,"first\nsecond ""quoted"", third"\n2,plain\n')
    assert texts(path, id_field="id") == [('first\nsecond "quoted", third', 3), ("plain", 4)]


# ---- the command line --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "content", "where"),
    [
        ("deep.jsonl", GOOD_JSONL + DEEP + "\n", "deep.jsonl:3: JSON nested too deeply"),
        ("open.csv", 'id,text\n1,ok\n2,"unterminated quote', "open.csv:3: a quoted field opens here"),
    ],
)
def test_encode_exits_2_with_file_and_line(tiny_models, tmp_path, name, content, where):
    path = tmp_path / name
    path.write_text(content)
    out = tmp_path / "out.npy"
    result = CliRunner().invoke(app, ["encode", str(path), "--out", str(out), "-m", str(tiny_models["bert"])])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {tmp_path}/{where}")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not list(tmp_path.glob("out.npy*")) and not list(tmp_path.glob(".out.npy*"))


# ---- vector files and their sidecars ---------------------------------------------------------------------------
def test_truncated_npy_is_an_input_error(tmp_path):
    out = tmp_path / "v.npy"
    write_vectors(out, np.ones((4, 3), dtype=np.float32))
    out.write_bytes(out.read_bytes()[:-5])
    with pytest.raises(InputError, match=r"v\.npy: truncated"):
        read_vectors(out)


def test_npy_header_claiming_huge_rows_is_refused_before_reading(tmp_path):
    import io

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10**12, 3)})
    out = tmp_path / "v.npy"
    out.write_bytes(header.getvalue() + np.ones(6, dtype=np.float32).tobytes())
    with pytest.raises(InputError, match=r"v\.npy: truncated or padded: its header says 1000000000000 x 3"):
        read_vectors(out)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.ones(5, dtype=np.float32), "expected a 2-D float32"),
        (np.ones((2, 2), dtype=np.int64), "expected a 2-D float32"),
        (np.array([[1.0, np.nan], [0.0, 1.0]], dtype=np.float32), "row 0 holds NaN"),
        (np.array([[1.0, 0.0], [np.inf, 1.0]], dtype=np.float64), "row 1 holds NaN or infinite"),
    ],
)
def test_npy_of_wrong_shape_dtype_or_non_finite_values(tmp_path, array, message):
    out = tmp_path / "v.npy"
    np.save(out, array)
    with pytest.raises(InputError, match=message):
        read_vectors(out)


def test_ids_and_sidecar_must_match_the_vectors(tmp_path):
    out = tmp_path / "v.npy"
    write_vectors(out, np.ones((2, 3), dtype=np.float32), ids=["a", "b"])
    ids_file = tmp_path / "v.npy.ids.jsonl"
    ids_file.write_text('"a"\n' + DEEP + "\n")
    with pytest.raises(InputError, match=r"v\.npy\.ids\.jsonl:2: JSON nested too deeply"):
        read_vectors(out)
    ids_file.write_text('"a"\n')
    with pytest.raises(InputError, match="1 ids for 2 vectors"):
        read_vectors(out)
    ids_file.write_text('"a"\n"b"\n')
    sidecar = tmp_path / "v.npy.json"
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "count": 3}))
    with pytest.raises(InputError, match=r"v\.npy\.json: count is 3"):
        read_vectors(out)


def test_parquet_without_vector_column_or_with_nulls(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = tmp_path / "v.parquet"
    pq.write_table(pa.table({"id": ["a"], "text": ["x"]}), out)
    with pytest.raises(InputError, match="expected an 'id' string column"):
        read_vectors(out)
    vectors = pa.array([[1.0, 2.0], None], pa.list_(pa.float32(), 2))
    pq.write_table(pa.table({"id": ["a", "b"], "vector": vectors}), out)
    with pytest.raises(InputError, match="missing values"):
        read_vectors(out)


# ---- configs read back ---------------------------------------------------------------------------------------
def test_train_config_nested_too_deeply(tmp_path):
    from emberta.train.config import TrainConfig

    path = tmp_path / "train.json"
    path.write_text(DEEP)
    with pytest.raises(InputError, match=r"train\.json: JSON nested too deeply"):
        TrainConfig.from_file(path)
    path = tmp_path / "train.yaml"
    path.write_text(DEEP)
    with pytest.raises(InputError, match=r"train\.yaml: not a readable JSON or YAML config"):
        TrainConfig.from_file(path)


@pytest.mark.parametrize(
    "spec",
    [
        "not json",
        DEEP,
        "[]",
        '{"steps": [{"class": "Nope", "params": {}, "state": {}, "arrays": {}}]}',
        '{"steps": [{"class": "Center", "params": {"bad": 1}, "state": {}, "arrays": {}}]}',
        '{"steps": [{"class": "Center", "params": {}, "state": {"__class__": 1}, "arrays": {}}]}',
        '{"steps": [{"class": "Center", "params": {}, "state": {}, "arrays": {"mean_": "../x.npy"}}]}',
    ],
)
def test_transforms_json_that_is_not_a_pipeline(tmp_path, spec):
    from emberta.transforms.pipeline import load_transforms

    (tmp_path / "transforms.json").write_text(spec)
    with pytest.raises(InputError, match=r"transforms\.json"):
        load_transforms(tmp_path)


# ---- found by tests/fuzz: damaged compressed or columnar files, text that is not Unicode -----------------------
def test_damaged_gzip_stream_is_an_input_error(tmp_path):
    """zlib.error (not an OSError) escaped from a gzip stream damaged inside its deflate data."""
    data = bytearray(gzip.compress("".join(f'{{"text": "row {i}"}}\n' for i in range(50)).encode(), mtime=0))
    data[10] ^= 0xFF
    path = tmp_path / "in.jsonl.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"in\.jsonl\.gz: cannot read \(Error -3"):
        texts(path)


def test_damaged_parquet_page_is_one_line_input_error(tmp_path):
    """The file opens (its footer is intact) but a data page header is damaged: pyarrow raised OSError."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"text": [f"t{i}" for i in range(20)]}), sink)
    data = bytearray(sink.getvalue().to_pybytes())
    data[4] ^= 0xFF
    path = tmp_path / "in.parquet"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"in\.parquet: damaged data after row 0") as caught:
        texts(path)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "\\ud83d x"])
def test_jsonl_lone_surrogate_escape_is_an_input_error(tmp_path, escape):
    """A lone surrogate passed the reader and crashed later, writing the ids file (UnicodeEncodeError)."""
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": "a", "text": "ok \\ud83d\\ude00"}\n{"id": "' + escape + '", "text": "b"}\n')
    with pytest.raises(InputError, match=r"in\.jsonl:2: the string .* holds half of a surrogate pair"):
        texts(path, id_field="id")


def test_npy_with_garbled_header_is_an_input_error(tmp_path):
    """numpy's header parser raised tokenize.TokenError."""
    out = tmp_path / "v.npy"
    write_vectors(out, np.ones((1, 2), dtype=np.float32))
    out.write_bytes(out.read_bytes().replace(b"{'descr'", b"z'descr'", 1))
    with pytest.raises(InputError, match=r"v\.npy: not a \.npy file"):
        read_vectors(out)


def test_train_config_yaml_error_is_one_line_and_list_items_are_typed(tmp_path):
    from emberta.train.config import TrainConfig

    path = tmp_path / "train.yaml"
    path.write_text('model: "unclosed\nloss: mnrl\n')
    with pytest.raises(InputError, match=r"train\.yaml: not a readable JSON or YAML config") as caught:
        TrainConfig.from_file(path)
    assert "\n" not in str(caught.value) and "at line" in str(caught.value)
    path.write_text("matryoshka_dims: [64, 'a']\n1: x\n")
    with pytest.raises(InputError, match=r"train\.yaml: (unknown config fields \['1'\]|config field)"):
        TrainConfig.from_file(path)
    path.write_text("matryoshka_dims: [64, 'a']\n")
    with pytest.raises(InputError, match=r"config field 'matryoshka_dims' is \[64, 'a'\]"):
        TrainConfig.from_file(path)


def test_ids_with_unicode_line_separators_round_trip(tmp_path):
    """The ids file was split with str.splitlines(), which also breaks at U+2028, U+2029 and U+0085 (written raw
    by json.dumps(ensure_ascii=False)): such ids did not read back."""
    out = tmp_path / "v.npy"
    ids = ["a\u2028b", "c\x85d", "e\u2029", "f\rg"]
    write_vectors(out, np.ones((4, 2), dtype=np.float32), ids=ids)
    assert read_vectors(out)[1] == ids


def test_parquet_ids_that_are_not_utf8_are_an_input_error(tmp_path):
    """pyarrow raised UnicodeDecodeError converting a damaged id column."""
    out = tmp_path / "v.parquet"
    write_vectors(out, np.ones((1, 2), dtype=np.float32), ids=["idA"])
    out.write_bytes(out.read_bytes().replace(b"idA", b"id\xf6"))
    with pytest.raises(InputError, match=r"v\.parquet: column 'id' cannot be read"):
        read_vectors(out)
