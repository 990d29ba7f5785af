"""Stream texts out of .txt, .jsonl, .csv, .tsv (each optionally .gz) and .parquet files.

Errors name the file and line (or parquet row) and say how to fix them. Records stream, so a file of millions
of lines is never held in memory at once.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from emberta.errors import InputError, OptionError
from emberta.io.lines import LineSource

TEXT_FORMATS = (".txt", ".jsonl", ".csv", ".tsv")
FORMATS = (*TEXT_FORMATS, ".parquet")
ERROR_MODES = ("strict", "replace")


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


class TextReader:
    """Iterate the TextRecords of one input file.

    field: the JSON field or CSV/parquet column holding the text (ignored for .txt, one text per line).
    id_field: the field holding ids; default row numbers. errors: "strict" stops at the first line that is
    not UTF-8, "replace" decodes it with U+FFFD and counts it in `replaced_lines`. meta_fields: fields kept as
    each record's `meta` ("*" = every field but the text and id); JSONL and parquet keep their value types,
    CSV values stay strings (an empty cell is missing).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        field: str = "text",
        id_field: str | None = None,
        errors: str = "strict",
        meta_fields: list[str] | str | None = None,
    ):
        self.path = Path(path)
        self.format = input_format(self.path)
        if errors not in ERROR_MODES:
            raise OptionError(f"unknown errors mode {errors!r}; choose one of {', '.join(ERROR_MODES)}")
        if self.format == ".txt" and id_field is not None:
            raise OptionError(".txt inputs hold one text per line and no ids; drop --id-field or use .jsonl/.csv")
        if self.format == ".txt" and meta_fields:
            raise OptionError(".txt inputs hold one text per line and no metadata; use .jsonl, .csv or .parquet")
        self.field, self.id_field, self.errors = field, id_field, errors
        self.meta_fields = meta_fields
        self._source = LineSource(self.path, errors)
        if not self.path.exists():
            raise InputError("no such file; check the path", path=self.path)
        if not self.path.is_file():
            raise InputError("not a file (a directory?); give the path of one input file", path=self.path)
        try:
            with open(self.path, "rb") as handle:
                handle.read(1)
        except OSError as exc:
            raise InputError(f"cannot read ({exc.strerror}); check its permissions", path=self.path) from exc

    def __iter__(self) -> Iterator[TextRecord]:
        readers = {".txt": self._txt, ".jsonl": self._jsonl, ".csv": self._csv, ".tsv": self._csv}
        count = 0
        for record in readers.get(self.format, self._parquet)():
            count += 1
            yield record
        if count == 0:
            raise InputError(f"no texts in the file (it is empty); {self._what_is_expected()}", path=self.path)

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
        if self.path.name.lower().endswith(".gz"):
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
        lines = (line for _, line in self._source.lines(keep_ends=True))
        reader = csv.reader(lines, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputError(f"malformed header ({exc})", path=self.path, line=1) from None
        text_col = self._column(header, self.field, "--field")
        id_col = self._column(header, self.id_field, "--id-field") if self.id_field else None
        for name in self.meta_fields if isinstance(self.meta_fields, list) else []:
            self._column(header, name, "--meta-fields")
        row = 0
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise InputError(f"malformed row ({exc})", path=self.path, line=reader.line_num) from None
            if not values:
                continue
            if len(values) != len(header):
                raise InputError(
                    f"{len(values)} columns where the header has {len(header)}; quote fields that contain "
                    f"{'tabs' if delimiter == chr(9) else 'commas'}",
                    path=self.path,
                    line=reader.line_num,
                )
            rid = values[id_col] if id_col is not None else str(row)
            meta = None
            if self.meta_fields:
                meta = self._meta({name: value for name, value in zip(header, values, strict=True) if value != ""})
            yield TextRecord(rid, values[text_col], reader.line_num, meta)
            row += 1

    def _parquet(self) -> Iterator[TextRecord]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(self.path)
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"not a readable parquet file ({exc})", path=self.path) from None
        names = parquet.schema_arrow.names
        columns = [self.field] + ([self.id_field] if self.id_field else [])
        if self.meta_fields == "*":
            meta_columns = [name for name in names if name not in columns]
        else:
            meta_columns = list(self.meta_fields or [])
        for column, option in zip(
            columns + meta_columns,
            ["--field", "--id-field"][: len(columns)] + ["--meta-fields"] * len(meta_columns),
            strict=True,
        ):
            if column not in names:
                raise InputError(
                    f"no column {column!r} (columns: {', '.join(names)}); choose one with {option}",
                    path=self.path,
                )
        text_type = parquet.schema_arrow.field(self.field).type
        if not (pa.types.is_string(text_type) or pa.types.is_large_string(text_type)):
            raise InputError(f"column {self.field!r} holds {text_type}, not strings", path=self.path)
        row = 0
        for batch in parquet.iter_batches(batch_size=8192, columns=columns + meta_columns):
            texts = batch.column(0).to_pylist()
            ids = batch.column(1).to_pylist() if self.id_field else None
            metas = [batch.column(name).to_pylist() for name in meta_columns]
            for i, text in enumerate(texts):
                if text is None:
                    raise InputError(f"row {row + 1}: column {self.field!r} is null", path=self.path)
                rid = str(row) if ids is None else ids[i]
                if rid is None:
                    raise InputError(f"row {row + 1}: column {self.id_field!r} is null", path=self.path)
                meta = {name: values[i] for name, values in zip(meta_columns, metas, strict=True)} if metas else None
                yield TextRecord(str(rid), text, row + 1, meta)
                row += 1

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
                path=self.path,
                line=number,
            )
        value = obj[name]
        if option == "--id-field" and isinstance(value, (int, str)) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise InputError(f"field {name!r} is {type(value).__name__}, not a string", path=self.path, line=number)
        return value

    def _column(self, header: list[str], name: str, option: str) -> int:
        if name not in header:
            raise InputError(
                f"no column {name!r} in the header (columns: {', '.join(header)}); choose one with {option}",
                path=self.path,
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


def read_texts(path: str | Path, *, field: str = "text", errors: str = "strict", limit: int | None = None) -> list[str]:
    """All texts of an input file (at most `limit`), in file order."""
    return [record.text for record in islice(TextReader(path, field=field, errors=errors), limit)]
