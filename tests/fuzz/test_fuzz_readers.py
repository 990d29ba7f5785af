"""Every input reader (txt, jsonl, csv, tsv, each optionally gzipped, and parquet) on random and damaged files
(random bytes, valid files with bytes flipped, inserted, deleted or cut off, truncated gzip streams, broken
parquet, encodings other than UTF-8) yields records or raises an EmbertaError whose message names the file,
and the line when it has one; never another exception. Records hold text that is valid Unicode (they are
written back as UTF-8), and lines that exist in the file."""

from __future__ import annotations

import gzip
import io
import json
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from fuzz_support import budget, damaged, tried
from hypothesis import given
from hypothesis import strategies as st

from emberta.errors import EmbertaError
from emberta.io.readers import TextReader

TEXT_FORMATS = [".txt", ".jsonl", ".csv", ".tsv"]
words = st.text(max_size=8) | st.sampled_from(["", "a b", '"q"', "x,y", "t\tu", "l1\nl2", "é", "\\", "\r"])
scalars = st.none() | st.booleans() | st.integers() | st.floats() | words


@st.composite
def rows(draw) -> list[dict]:
    keys = draw(st.lists(st.sampled_from(["text", "id", "lang", "n"]), unique=True, min_size=1))
    return draw(st.lists(st.fixed_dictionaries({key: scalars if key != "text" else words for key in keys}), max_size=5))


def serialize(fmt: str, records: list[dict], draw) -> bytes:
    """Valid content of the format (before any damage)."""
    if fmt == ".txt":
        return "".join(str(r.get("text", "")).replace("\n", " ") + "\n" for r in records).encode()
    if fmt == ".jsonl":
        ensure_ascii = draw(st.booleans())
        return "".join(json.dumps(r, ensure_ascii=ensure_ascii) + "\n" for r in records).encode()
    if fmt == ".parquet":
        return parquet_bytes(records)
    import csv

    sink = io.StringIO()
    keys = sorted({k for r in records for k in r}) or ["text"]
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    writer = csv.writer(sink, delimiter="\t" if fmt == ".tsv" else ",", lineterminator=ending)
    writer.writerow(keys)
    writer.writerows([[r.get(k, "") for k in keys] for r in records])
    return sink.getvalue().encode()


def parquet_bytes(records: list[dict]) -> bytes:
    keys = sorted({k for r in records for k in r}) or ["text"]
    columns = {}
    for key in keys:
        values = [r.get(key) for r in records]
        try:
            columns[key] = pa.array(values)
        except (pa.ArrowException, OverflowError):
            columns[key] = pa.array([None if v is None else str(v) for v in values])
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(columns) if records else pa.table({k: pa.array([], pa.string()) for k in keys}), sink)
    return sink.getvalue().to_pybytes()


@st.composite
def input_files(draw):
    """(format, gzipped, file bytes): random bytes, or a valid file, each maybe damaged before or after gzip."""
    fmt = draw(st.sampled_from([*TEXT_FORMATS, ".parquet"]))
    gzipped = fmt != ".parquet" and draw(st.booleans())
    if draw(st.integers(0, 4)) == 0:
        data = draw(st.binary(max_size=200))
    else:
        data = draw(damaged(serialize(fmt, draw(rows()), draw)))
    if gzipped:
        data = gzip.compress(data, mtime=0)
        if draw(st.booleans()):
            data = draw(damaged(data))
    return fmt, gzipped, data


def options_for(fmt: str, draw) -> dict:
    options = {"errors": draw(st.sampled_from(["strict", "replace"]))}
    if fmt != ".txt":
        options["id_field"] = draw(st.sampled_from([None, "id", "n"]))
        options["meta_fields"] = draw(st.sampled_from([None, "*", ["lang"], ["lang", "n"]]))
    return options


def check_records_or_named_error(path: Path, options: dict) -> None:
    reader = TextReader(path, **options)
    reader.count_hint()
    try:
        records = list(reader)
    except EmbertaError as exc:
        message = str(exc)
        assert message.startswith(f"{path}:") and "\n" not in message, message
        line = getattr(exc, "line", None)
        if line is not None:
            assert message.startswith(f"{path}:{line}: "), message
            assert 1 <= line <= max(count_lines(path), 1), (line, message)
        return
    for record in records:
        assert isinstance(record.text, str) and isinstance(record.id, str)
        record.text.encode("utf-8")
        record.id.encode("utf-8")
        assert 1 <= record.line <= max(count_lines(path), record.line if path.suffix == ".parquet" else 1)


def count_lines(path: Path) -> int:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            return sum(1 for _ in handle)
    except (OSError, EOFError):
        return 10**9  # an unreadable gzip stream: the lines read before it broke are not known here


@budget()
@given(input_files(), st.data())
def test_reader_yields_records_or_names_the_file(case, data):
    fmt, gzipped, content = case
    name = "input" + fmt + (".gz" if gzipped else "")
    tried("readers" + fmt + (".gz" if gzipped else ""))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        check_records_or_named_error(path, options_for(fmt, data.draw))
