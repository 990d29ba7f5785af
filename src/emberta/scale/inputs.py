"""The input of a scaled-out encode: a file, a glob or a folder of shards, expanded to an ordered list of files,
each read with emberta's own TextReader (so ids, fields, formats and errors are those of a local run) and cut
into pieces of at most `shard_rows` records. A piece is the unit of output (one parquet shard) and of resume."""

from __future__ import annotations

import glob
from dataclasses import asdict, dataclass
from pathlib import Path

from emberta.errors import InputError
from emberta.io.readers import FORMATS, TextReader, input_format

DEFAULT_SHARD_ROWS = 10_000


@dataclass(frozen=True)
class ReaderArgs:
    """How every input file is read: TextReader's format, field, id_field and errors."""

    format: str | None = None
    field: str = "text"
    id_field: str | None = None
    errors: str = "strict"

    def open(self, path: str | Path) -> TextReader:
        return TextReader(path, format=self.format, field=self.field, id_field=self.id_field, errors=self.errors)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Piece:
    """Records [start, stop) of input file number `file` (0-based, in the expanded order), written as `shard`."""

    file: int
    start: int
    stop: int
    shard: str

    @property
    def rows(self) -> int:
        return self.stop - self.start


def expand_inputs(pattern: str | Path) -> list[Path]:
    """The input files, in order: a file as given; a folder's files of a supported format (hidden files and names
    starting with "_" skipped), sorted by name; a glob's matching files, sorted. InputError when none."""
    text = str(pattern)
    path = Path(text)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and _is_input(p))
        if not files:
            raise InputError(f"no input files in the folder; expected files ending in {', '.join(FORMATS)} (text "
                             "formats may be gzipped)", path=path)  # fmt: skip
        return files
    if glob.has_magic(text):
        files = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not files:
            raise InputError("no file matches this pattern; check the path (quote the pattern so that the shell "
                             "does not expand it)", path=text)  # fmt: skip
        return files
    if not path.is_file():
        raise InputError("no such file or folder", path=text)
    return [path]


def _is_input(path: Path) -> bool:
    if path.name.startswith((".", "_")):
        return False
    try:
        input_format(path)
    except InputError:
        return False
    return True


def count_records(path: str | Path, reader: ReaderArgs) -> int:
    """The number of records in one input file, reading it through (every line checked as a local run would)."""
    with reader.open(path) as records:
        return sum(1 for _ in records)


def plan_pieces(counts: list[int], shard_rows: int = DEFAULT_SHARD_ROWS) -> list[Piece]:
    """Cut each file's records into pieces of at most `shard_rows`, named part-FFFFF-PPPPP.parquet (file number,
    piece number), so the shards' name order is the input order."""
    pieces = []
    for file, count in enumerate(counts):
        for number, start in enumerate(range(0, count, shard_rows)):
            stop = min(start + shard_rows, count)
            pieces.append(Piece(file, start, stop, f"part-{file:05d}-{number:05d}.parquet"))
    return pieces
