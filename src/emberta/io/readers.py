"""Stream texts out of .txt, .jsonl, .csv, .tsv (each optionally .gz) and .parquet files, or standard input.

Errors name the file and line (or parquet row) and say how to fix them. Records stream, so a file of millions
of lines is never held in memory at once. Standard input ("-") is copied to a temporary file first, so that it
can be read more than once (a first-record check, a line count, then the records).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from emberta.errors import InputError, OptionError
from emberta.io.csv_records import csv_records
from emberta.io.lines import LineSource

TEXT_FORMATS = (".txt", ".jsonl", ".csv", ".tsv")
FORMATS = (*TEXT_FORMATS, ".parquet")
ERROR_MODES = ("strict", "replace")
STDIN = "-"  # the path that means standard input
STDIN_NAME = "<stdin>"  # what messages call it


@dataclass(frozen=True)
class TextRecord:
    """One input text: `id` (the id field's value as a string, else the 0-based row number), `text`,
    `line`, the 1-based line (parquet: row) it came from, and `meta`, the metadata fields asked for (else None)."""

    id: str
    text: str
    line: int
    meta: dict | None = None


def input_format(path: str | Path) -> str:
    """The format suffix of an input path (".jsonl" for data.jsonl.gz); raise InputError if unsupported."""
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = Path(name).suffix
    if suffix not in FORMATS or (suffix == ".parquet" and str(path).lower().endswith(".gz")):
        raise InputError(
            f"unsupported input format {suffix or '(no suffix)'!r}; use one of "
            f"{', '.join(FORMATS)} (text formats may be gzipped, .gz)",
            path=path,
        )
    return suffix


def format_option(value: str) -> tuple[str, bool]:
    """(format suffix, gzipped) of a --format value: "jsonl" -> (".jsonl", False), "csv.gz" or ".csv.gz" ->
    (".csv", True); raise OptionError if unsupported."""
    name = value.strip().lower().lstrip(".")
    compressed = name.endswith(".gz")
    suffix = "." + name.removesuffix(".gz")
    if suffix not in FORMATS or (suffix == ".parquet" and compressed):
        names = ", ".join(f.lstrip(".") for f in FORMATS)
        raise OptionError(f"unknown --format {value!r}; use one of {names} (text formats may add .gz, e.g. jsonl.gz)")
    return suffix, compressed


class TextReader:
    """Iterate the TextRecords of one input file, or of standard input when path is "-".

    format: "txt", "jsonl", "csv", "tsv" or "parquet" (a leading dot is fine; ".gz" appended for gzipped text),
    required for standard input and overriding the file's suffix otherwise (a text file is still read as gzipped
    when its name ends in .gz, whatever the format says). `name` is what messages call the
    input: the path as given, or "<stdin>" (then `path` is a temporary copy, removed by close() or when the
    reader is garbage-collected).

    field: the JSON field or CSV/parquet column holding the text (ignored for .txt, one text per line).
    id_field: the field holding ids; default row numbers. errors: "strict" stops at the first line that is
    not UTF-8, "replace" decodes it with U+FFFD and counts it in `replaced_lines`. meta_fields: fields kept as
    each record's `meta` ("*" = every field but the text and id); JSONL and parquet keep their value types,
    CSV values stay strings (an empty cell is missing). meta_option: what messages call the option that chose
    meta_fields (a command whose option has another name, e.g. analyze's --labels, passes it).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        format: str | None = None,
        field: str = "text",
        id_field: str | None = None,
        errors: str = "strict",
        meta_fields: list[str] | str | None = None,
        meta_option: str = "--meta-fields",
    ):
        stdin = str(path) == STDIN
        self.name = STDIN_NAME if stdin else str(Path(path))  # for messages; `path` may be a temporary file
        if format is not None:
            self.format, compressed = format_option(format)
            if not stdin and self.format in TEXT_FORMATS:  # a real file's name says it is gzipped, too
                compressed = compressed or Path(path).name.lower().endswith(".gz")
        elif stdin:
            raise OptionError("reading standard input ('-') needs its format: pass --format txt, jsonl, csv, tsv or "
                              "parquet (add .gz when gzipped, e.g. jsonl.gz)")  # fmt: skip
        else:
            self.format, compressed = input_format(path), Path(path).name.lower().endswith(".gz")
        self.compressed = compressed
        if errors not in ERROR_MODES:
            raise OptionError(f"unknown errors mode {errors!r}; choose one of {', '.join(ERROR_MODES)}")
        if self.format == ".txt" and id_field is not None:
            raise OptionError(".txt inputs hold one text per line and no ids; drop --id-field or use .jsonl/.csv")
        if self.format == ".txt" and meta_fields:
            raise OptionError(".txt inputs hold one text per line and no metadata; use .jsonl, .csv or .parquet")
        self.field, self.id_field, self.errors = field, id_field, errors
        self.meta_fields, self.meta_option = meta_fields, meta_option
        if stdin:
            self.path = _spool_stdin(self.format + (".gz" if compressed else ""))
            self._remove = weakref.finalize(self, _remove_file, self.path)
        else:
            self.path = Path(path)
            _check_readable(self.path, self.name)
        self._source = LineSource(self.path, errors, name=self.name, compressed=compressed)

    def close(self) -> None:
        """Remove the temporary copy of standard input, if any (also done when the reader is garbage-collected)."""
        remove = getattr(self, "_remove", None)
        if remove is not None:
            remove()

    def __enter__(self) -> TextReader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __iter__(self) -> Iterator[TextRecord]:
        readers = {".txt": self._txt, ".jsonl": self._jsonl, ".csv": self._csv, ".tsv": self._csv}
        count = 0
        for record in readers.get(self.format, self._parquet)():
            count += 1
            yield record
        if count == 0:
            raise InputError(f"no texts in the file (it is empty); {self._what_is_expected()}", path=self.name)

    def check_first(self) -> None:
        """Read the first record, so an empty file or a bad first line fails before any slow work."""
        next(iter(self), None)

    def count_hint(self) -> int | None:
        """Number of lines (or parquet rows), cheap to get; an upper bound of the record count for progress."""
        if self.format == ".parquet":
            import pyarrow.parquet as pq

            try:
                return pq.ParquetFile(self.path).metadata.num_rows
            except Exception:
                return None
        if self.compressed:
            return None
        with open(self.path, "rb") as handle:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))

    # ---- formats ------------------------------------------------------------------------------------
    @property
    def replaced_lines(self) -> int:
        """Lines that were not UTF-8 and were decoded with U+FFFD (errors="replace")."""
        return self._source.replaced_lines

    def _txt(self) -> Iterator[TextRecord]:
        for row, (number, line) in enumerate(self._source.lines()):
            yield TextRecord(str(row), line, number)

    def _jsonl(self) -> Iterator[TextRecord]:
        for row, (number, obj) in enumerate(self._source.json_objects()):
            text = self._field_value(obj, self.field, number, "--field")
            rid = self._field_value(obj, self.id_field, number, "--id-field") if self.id_field else str(row)
            yield TextRecord(rid, text, number, self._meta(obj))

    def _csv(self) -> Iterator[TextRecord]:
        delimiter = "\t" if self.format == ".tsv" else ","
        records = csv_records(self._source.lines(keep_ends=True), delimiter, self.name)
        first = next(records, None)
        if first is None:
            return
        header = first[1]
        text_col = self._column(header, self.field, "--field")
        id_col = self._column(header, self.id_field, "--id-field") if self.id_field else None
        for name in self.meta_fields if isinstance(self.meta_fields, list) else []:
            self._column(header, name, self.meta_option)
        row = 0
        for line, values in records:
            if not values:
                continue
            if len(values) != len(header):
                raise InputError(
                    f"{len(values)} columns where the header has {len(header)}; quote fields that contain "
                    f"{'tabs' if delimiter == chr(9) else 'commas'}",
                    path=self.name,
                    line=line,
                )
            rid = values[id_col] if id_col is not None else str(row)
            meta = None
            if self.meta_fields:
                meta = self._meta({name: value for name, value in zip(header, values, strict=True) if value != ""})
            yield TextRecord(rid, values[text_col], line, meta)
            row += 1

    def _parquet(self) -> Iterator[TextRecord]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(self.path)
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"not a readable parquet file ({_one_line(exc)})", path=self.name) from None
        names = parquet.schema_arrow.names
        columns = [self.field] + ([self.id_field] if self.id_field else [])
        if self.meta_fields == "*":
            meta_columns = [name for name in names if name not in columns]
        else:
            meta_columns = list(self.meta_fields or [])
        for column, option in zip(
            columns + meta_columns,
            ["--field", "--id-field"][: len(columns)] + [self.meta_option] * len(meta_columns),
            strict=True,
        ):
            if column not in names:
                raise InputError(
                    f"no column {column!r} (columns: {', '.join(names)}); choose one with {option}",
                    path=self.name,
                )
        text_type = parquet.schema_arrow.field(self.field).type
        if not (pa.types.is_string(text_type) or pa.types.is_large_string(text_type)):
            raise InputError(f"column {self.field!r} holds {text_type}, not strings", path=self.name)
        row = 0
        for texts, ids, metas in self._parquet_batches(parquet, columns, meta_columns):
            for i, text in enumerate(texts):
                if text is None:
                    raise InputError(f"row {row + 1}: column {self.field!r} is null", path=self.name)
                rid = str(row) if ids is None else ids[i]
                if rid is None:
                    raise InputError(f"row {row + 1}: column {self.id_field!r} is null", path=self.name)
                meta = {name: values[i] for name, values in zip(meta_columns, metas, strict=True)} if metas else None
                yield TextRecord(str(rid), text, row + 1, meta)
                row += 1

    def _parquet_batches(self, parquet, columns: list[str], meta_columns: list[str]) -> Iterator[tuple]:
        """(texts, ids or None, meta columns) of each batch; damaged pages are an InputError."""
        import pyarrow as pa

        batches = parquet.iter_batches(batch_size=8192, columns=columns + meta_columns)
        row = 0
        while True:
            try:
                batch = next(batches, None)
                if batch is None:
                    return
                texts = batch.column(0).to_pylist()
                ids = batch.column(1).to_pylist() if self.id_field else None
                metas = [batch.column(name).to_pylist() for name in meta_columns]
            except (pa.ArrowException, OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
                raise InputError(
                    f"damaged data after row {row} ({_one_line(exc)}); write the parquet file again", path=self.name
                ) from None
            row += len(texts)
            yield texts, ids, metas

    # ---- helpers ------------------------------------------------------------------------------------
    def _meta(self, obj: dict) -> dict | None:
        if not self.meta_fields:
            return None
        if self.meta_fields == "*":
            return {k: v for k, v in obj.items() if k not in (self.field, self.id_field)}
        return {name: obj.get(name) for name in self.meta_fields}

    def _field_value(self, obj: dict, name: str, number: int, option: str) -> str:
        if name not in obj:
            fields = ", ".join(map(repr, obj)) or "none"
            raise InputError(
                f"no field {name!r} (fields: {fields}); choose the field with {option}",
                path=self.name,
                line=number,
            )
        value = obj[name]
        if option == "--id-field" and isinstance(value, (int, str)) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise InputError(f"field {name!r} is {type(value).__name__}, not a string", path=self.name, line=number)
        return value

    def _column(self, header: list[str], name: str, option: str) -> int:
        if name not in header:
            raise InputError(
                f"no column {name!r} in the header (columns: {', '.join(header)}); choose one with {option}",
                path=self.name,
                line=1,
            )
        return header.index(name)

    def _what_is_expected(self) -> str:
        if self.format == ".txt":
            return "expected one text per line"
        if self.format == ".jsonl":
            return f'expected one JSON object per line, like {{"{self.field}": "..."}}'
        if self.format == ".parquet":
            return f"expected rows with a string column {self.field!r}"
        return f"expected a header row with a {self.field!r} column, then one row per text"


def read_texts(path: str | Path, *, field: str = "text", errors: str = "strict", limit: int | None = None,
               format: str | None = None) -> list[str]:  # fmt: skip
    """All texts of an input file (at most `limit`), in file order; path "-" reads standard input (in the
    `format` given, e.g. "jsonl")."""
    with TextReader(path, format=format, field=field, errors=errors) as reader:
        return [record.text for record in islice(reader, limit)]


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line (pyarrow's span several)."""
    return " ".join(str(exc).split())


def _check_readable(path: Path, name: str) -> None:
    if not path.exists():
        raise InputError("no such file; check the path", path=name)
    if not path.is_file():
        raise InputError("not a file (a directory?); give the path of one input file", path=name)
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror}); check its permissions", path=name) from exc


def _spool_stdin(suffix: str) -> Path:
    """Standard input's bytes, read once into a new temporary file (on disk: inputs may be large)."""
    fd, name = tempfile.mkstemp(prefix="emberta-stdin-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            source = getattr(sys.stdin, "buffer", None)
            if source is None:  # a text stream without bytes underneath (e.g. replaced by a test harness)
                handle.write(sys.stdin.read().encode("utf-8"))
            else:
                shutil.copyfileobj(source, handle)
    except BaseException:
        _remove_file(Path(name))
        raise
    return Path(name)


def _remove_file(path: Path) -> None:
    path.unlink(missing_ok=True)
