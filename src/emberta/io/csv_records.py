"""CSV and TSV records with errors that name the line: csv.reader in strict mode, and for a quoted field that
never closes, the line where its quote opened (not the end of the file, where the parser gives up)."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from emberta.errors import InputError


def csv_records(lines: Iterator[tuple[int, str]], delimiter: str, name: str) -> Iterator[tuple[int, list[str]]]:
    """(line number where the record ends, values) of each record of `lines` ((number, line with its end)
    pairs), the header first; a malformed record is an InputError naming `name` and the line."""
    source = _RecordLines(lines)
    reader = csv.reader(source, delimiter=delimiter, strict=True)
    what = "header"
    while True:
        source.record.clear()
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _malformed(exc, source.record, delimiter, name, what, reader.line_num) from None
        yield reader.line_num, values
        what = "row"


def _malformed(exc: csv.Error, record, delimiter: str, name: str, what: str, line: int) -> InputError:
    opened = _open_quote_line(record, delimiter)
    if opened is not None:
        return InputError(
            f'a quoted field opens here and is never closed ({exc}); end it with a quote (") and write each quote '
            'inside it as two ("")',
            path=name,
            line=opened,
        )
    return InputError(
        f'malformed {what} ({exc}); quote the whole field and write each quote inside it as two ("")',
        path=name,
        line=line,
    )


class _RecordLines:
    """The lines of a CSV file for csv.reader, remembering (line number, line) of the record being read."""

    def __init__(self, lines: Iterator[tuple[int, str]]):
        self._lines = lines
        self.record: list[tuple[int, str]] = []

    def __iter__(self) -> _RecordLines:
        return self

    def __next__(self) -> str:
        number, line = next(self._lines)
        self.record.append((number, line))
        return line


def _open_quote_line(record: list[tuple[int, str]], delimiter: str) -> int | None:
    """The line where a quoted field of `record` (CSV lines, with their ends) opens and is not closed by its
    end, else None. A quote opens a field only at the field's start; inside one, "" is a quote."""
    opened, in_quote, field_start, skip = None, False, True, False
    for number, line in record:
        for at, char in enumerate(line):
            if skip:
                skip = False
                continue
            if in_quote and char == '"':
                skip = line[at + 1 : at + 2] == '"'
                in_quote = skip
            elif not in_quote and char == '"' and field_start:
                in_quote, opened = True, number
            field_start = not in_quote and char in (delimiter, "\r", "\n")
    return opened if in_quote else None
