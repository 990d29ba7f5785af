"""Decode the lines of a text file (optionally .gz) with file:line errors, and parse JSON Lines."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path

from emberta.errors import InputError
from emberta.io.jsontext import parse_json


class LineSource:
    """The decoded lines of one file. errors: "strict" raises on the first line that is not UTF-8, "replace"
    decodes it with U+FFFD and counts it in `replaced_lines`. name: what errors call the file (default: the
    path; "<stdin>" for standard input spooled to a temporary file). compressed: gzipped (default: the path
    ends in .gz)."""

    def __init__(self, path: str | Path, errors: str = "strict", *, name: str | None = None,
                 compressed: bool | None = None):  # fmt: skip
        self.path = Path(path)
        self.name = str(self.path) if name is None else name
        self.compressed = self.path.name.lower().endswith(".gz") if compressed is None else compressed
        self.errors = errors
        self.replaced_lines = 0

    def lines(self, keep_ends: bool = False) -> Iterator[tuple[int, str]]:
        """(1-based line number, decoded line, without its end-of-line unless keep_ends)."""
        opener = gzip.open if self.compressed else open
        try:
            with opener(self.path, "rb") as handle:
                for number, raw in enumerate(handle, start=1):
                    if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                        raw = raw[3:]
                    line = self._decode(raw, number)
                    yield number, line if keep_ends else line.rstrip("\r\n")
        except FileNotFoundError:
            raise InputError("no such file; check the path", path=self.name) from None
        except (OSError, EOFError, zlib.error) as exc:  # a damaged gzip stream raises any of them
            raise InputError(f"cannot read ({exc}); is the file complete?", path=self.name) from exc

    def json_objects(self) -> Iterator[tuple[int, dict]]:
        """(line number, object) for each non-blank line; a line that is not a JSON object is an InputError."""
        for number, line in self.lines():
            if not line.strip():
                continue
            obj = parse_json(line, path=self.name, line=number, hint="; each line must be one JSON object")
            if not isinstance(obj, dict):
                raise InputError(f"expected a JSON object, got {type(obj).__name__}", path=self.name, line=number)
            yield number, obj

    def _decode(self, raw: bytes, number: int) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            if self.errors == "replace":
                self.replaced_lines += 1
                return raw.decode("utf-8", errors="replace")
            bad = raw[exc.start : exc.start + 4]
            raise InputError(
                f"bytes that are not UTF-8 at column {exc.start + 1} ({bad!r}); convert the file to UTF-8 "
                "(e.g. iconv -f latin1 -t utf-8) or pass --errors replace",
                path=self.name,
                line=number,
            ) from None
