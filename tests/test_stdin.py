"""Reading texts from standard input ("-" with a format) and choosing a file's format with `format`: every
reader format, messages that say <stdin>, the temporary copy removed, gzipped files named .gz, `emberta encode -`
and `emberta analyze --texts -` (labels from the same records)."""

from __future__ import annotations

import gc
import gzip
import io
import json
import sys
import types

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import emberta
from emberta import InputError, OptionError, read_texts
from emberta.io.readers import TextReader


@pytest.fixture
def stdin(monkeypatch):
    """stdin(data): standard input holding `data` (bytes), as sys.stdin.buffer."""

    def feed(data: bytes) -> None:
        monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=io.BytesIO(data)))

    return feed


def records(reader):
    return [(r.id, r.text, r.line) for r in reader]


def test_jsonl_from_stdin_reads_again_and_counts(stdin):
    stdin(b'{"id": "a", "text": "first"}\n\n{"id": "b", "text": "second"}\n')
    reader = TextReader("-", format="jsonl", id_field="id")
    reader.check_first()
    assert reader.count_hint() == 3 and reader.name == "<stdin>"
    assert records(reader) == [("a", "first", 1), ("b", "second", 3)]
    assert records(reader) == [("a", "first", 1), ("b", "second", 3)]  # read once, iterated twice


@pytest.mark.parametrize(
    ("format", "data", "expected"),
    [
        ("csv", b'id,text\n1,"hello, world"\n2,two\n', [("1", "hello, world", 2), ("2", "two", 3)]),
        (".tsv", b"id\ttext\n1\tone\n", [("1", "one", 2)]),
        ("TXT", "first\nsecond ü\n".encode(), [("0", "first", 1), ("1", "second ü", 2)]),
        ("jsonl.gz", gzip.compress(b'{"id": 5, "text": "zipped"}\n'), [("5", "zipped", 1)]),
    ],
)
def test_each_text_format_from_stdin(stdin, format, data, expected):
    stdin(data)
    id_field = None if format.lower() == "txt" else "id"
    with TextReader("-", format=format, id_field=id_field) as reader:
        assert records(reader) == expected


def test_parquet_from_stdin(stdin):
    buffer = io.BytesIO()
    pq.write_table(pa.table({"text": ["a", "b"], "id": [10, 11]}), buffer)
    stdin(buffer.getvalue())
    with TextReader("-", format="parquet", id_field="id") as reader:
        assert reader.count_hint() == 2 and records(reader) == [("10", "a", 1), ("11", "b", 2)]


def test_a_text_stream_without_bytes_underneath(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("one\ntwo\n"))
    assert read_texts("-", format="txt") == ["one", "two"]


def test_stdin_needs_a_known_format(stdin):
    stdin(b"text\n")
    with pytest.raises(OptionError, match=r"standard input .* needs its format: pass --format"):
        TextReader("-")
    with pytest.raises(OptionError, match=r"unknown --format 'xml'; use one of txt, jsonl, csv, tsv, parquet"):
        TextReader("-", format="xml")
    with pytest.raises(OptionError, match=r"unknown --format 'parquet\.gz'"):
        TextReader("-", format="parquet.gz")
    assert sys.stdin.buffer.tell() == 0  # nothing was read before the options were checked


def test_a_bad_line_of_stdin_is_reported_as_stdin_and_line(stdin):
    stdin(b'{"text": "a"}\n{"text": "b"}\n{"text": broken}\n')
    reader = TextReader("-", format="jsonl")
    with pytest.raises(InputError, match=r"^<stdin>:3: not valid JSON") as caught:
        list(reader)
    assert str(reader.path) not in str(caught.value) and caught.value.path == "<stdin>"
    stdin(b"text\nok\n\xff\xfe\n")
    with pytest.raises(InputError, match=r"^<stdin>:3: bytes that are not UTF-8"):
        read_texts("-", format="csv")
    stdin(b"")
    with pytest.raises(InputError, match=r"^<stdin>: no texts in the file"):
        read_texts("-", format="txt")


def test_the_temporary_copy_is_removed_on_close_and_on_garbage_collection(stdin):
    stdin(b"a\n")
    reader = TextReader("-", format="txt")
    copy = reader.path
    assert copy.is_file()
    reader.close()
    reader.close()  # twice is fine
    assert not copy.exists()
    stdin(b"a\n")
    reader = TextReader("-", format="txt")
    copy = reader.path
    del reader
    gc.collect()
    assert not copy.exists()


def test_format_overrides_a_files_suffix(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("line one\nline two\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"unsupported input format '\.log'"):
        TextReader(log)
    assert read_texts(log, format="txt") == ["line one", "line two"]
    data = tmp_path / "rows.dat"
    data.write_text('{"text": "ok"}\n{"text": 1}\n', encoding="utf-8")
    reader = TextReader(data, format=".jsonl")
    assert reader.name == str(data)
    with pytest.raises(InputError, match=r"rows\.dat:2: field 'text' is int"):
        list(reader)


def test_cli_encodes_standard_input(tiny_models, tmp_path):
    from emberta.cli.main import app

    lines = [{"id": "x", "text": "The quick brown fox."}, {"id": "y", "text": "A man plays a guitar."}]
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    out = tmp_path / "v.npy"
    model = str(tiny_models["bert-st"])
    runner = CliRunner()
    result = runner.invoke(app, ["encode", "-", "--format", "jsonl", "--id-field", "id", "--out", str(out), "-m",
                                 model, "-q"], input=data)  # fmt: skip
    assert result.exit_code == 0, result.output
    expected = emberta.load_encoder(model).encode([line["text"] for line in lines], show_progress=False)
    np.testing.assert_allclose(np.load(out), expected, atol=1e-6)
    result = runner.invoke(app, ["encode", "-", "--out", str(tmp_path / "w.npy"), "-m", model], input=data)
    assert result.exit_code == 2 and "pass --format" in result.output
    result = runner.invoke(app, ["encode", "-", "--format", "jsonl", "--out", str(tmp_path / "w.npy"), "-m", model],
                           input=b'{"text": "ok"}\n{"txt": "no"}\n')  # fmt: skip
    assert result.exit_code == 2 and "<stdin>:2: no field 'text'" in result.output
    assert not (tmp_path / "w.npy").exists()


def test_a_gzipped_file_stays_gzipped_when_the_format_is_given(tmp_path):
    zipped = tmp_path / "x.jsonl.gz"
    zipped.write_bytes(gzip.compress(b'{"text": "one"}\n{"text": "two"}\n'))
    assert read_texts(zipped, format="jsonl") == ["one", "two"]  # the name's .gz counts as well as the format's
    assert read_texts(zipped, format="jsonl.gz") == ["one", "two"]
    other = tmp_path / "export.dat.gz"
    other.write_bytes(gzip.compress("a\nb ü\n".encode()))
    assert read_texts(other, format="txt") == ["a", "b ü"]
    plain = tmp_path / "fake.txt.gz"
    plain.write_text("not gzipped\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"fake\.txt\.gz: cannot read .*is the file complete"):
        read_texts(plain, format="txt")


def test_cli_analyzes_standard_input_with_labels_from_the_same_records(tiny_models, tmp_path, monkeypatch):
    from emberta.analyze import analyze
    from emberta.cli.main import app
    from emberta.report import plots

    drawn = []
    monkeypatch.setattr(plots, "pca_scatter", lambda sample, labels, path: drawn.append(list(labels)))
    words = ["fox", "dog", "guitar", "weather", "book", "search"]
    lines = [{"text": f"the {w} number {i}", "topic": w} for w in words for i in range(4)]
    data = "".join(json.dumps(line) + "\n" for line in lines)
    model, runner = str(tiny_models["bert"]), CliRunner()
    args = ["analyze", "-m", model, "--texts", "-", "--labels", "topic", "--no-cache"]
    result = runner.invoke(app, [*args, "--format", "jsonl", "--out", str(tmp_path / "r")], input=data)
    assert result.exit_code == 0, result.output
    from_stdin = json.loads((tmp_path / "r" / "report.json").read_text())
    assert from_stdin["rows"] == len(lines) and from_stdin["source"] == "-"
    file = tmp_path / "texts.dat"
    file.write_text(data, encoding="utf-8")
    from_file = analyze(model, texts_file=file, labels_field="topic", format="jsonl", out=tmp_path / "f", cache=False)
    assert json.loads(json.dumps({**from_file, "source": "-"})) == from_stdin
    assert drawn[0] == drawn[1] and sorted(drawn[0]) == sorted(line["topic"] for line in lines)
    result = runner.invoke(app, args, input=data)
    assert result.exit_code == 2 and "reading standard input ('-') needs its format: pass --format" in result.output


@pytest.mark.parametrize(
    ("format", "data", "message"),
    [
        ("jsonl", '{"text": "a", "topic": "x"}\n{"text": "b"}\n', "<stdin>:2: label field 'topic' is missing"),
        ("jsonl", '{"text": "a", "topic": 3}\n', "<stdin>:1: label field 'topic' is int, not a string"),
        ("csv", "text,topic\na,x\nb,\n", "<stdin>:3: label field 'topic' is missing"),
        ("csv", "text,kind\na,x\n", "no column 'topic' in the header (columns: text, kind); choose one with --labels"),
        ("txt", "a\nb\n", ".txt inputs hold one text per line and no metadata"),
    ],
)
def test_cli_analyze_reports_bad_labels(tiny_models, format, data, message):
    from emberta.cli.main import app

    args = ["analyze", "-m", str(tiny_models["bert"]), "--texts", "-", "--format", format, "--labels", "topic"]
    result = CliRunner().invoke(app, [*args, "--no-cache"], input=data)
    assert result.exit_code == 2 and message in result.output, result.output
