"""Stream the texts of a pretraining corpus: `.txt` (one text a line), `.jsonl` (one field), either `.gz`;
blank lines skipped, duplicates (by hash) dropped, never a whole file in memory."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from emberta.errors import InputError, OptionError

ERROR_MODES = ("strict", "replace")
SUFFIXES = (".txt", ".jsonl", ".txt.gz", ".jsonl.gz")


@dataclass
class CorpusStats:
    """What one pass over a corpus saw: lines read, texts kept, blank lines and duplicates dropped."""

    lines: int = 0
    texts: int = 0
    blank: int = 0
    duplicates: int = 0
    per_file: dict[str, int] = field(default_factory=dict)


class Corpus:
    """The texts of `files`, streamed. Iterate it as often as needed; each pass re-reads the files.

    files: `.txt` / `.jsonl` paths, optionally gzipped. field: the JSONL field holding the text.
    errors: "strict" (a line that is not UTF-8 raises InputError naming file:line) or "replace" (U+FFFD).
    dedup: drop a text seen before in this pass (an 8-byte BLAKE2 digest per distinct text is kept).
    After a pass, `stats` counts what it saw.

    >>> corpus = Corpus(["tweets.txt"])
    >>> sum(1 for _ in corpus)
    """

    def __init__(self, files: Sequence[str | Path], *, field: str = "text", errors: str = "strict", dedup=True):
        if not files:
            raise OptionError("no corpus files given; pass one or more .txt or .jsonl files")
        if errors not in ERROR_MODES:
            raise OptionError(f"--errors {errors!r}: choose strict or replace")
        self.files = [Path(f) for f in files]
        for path in self.files:
            check_corpus_file(path)
        self.field = field
        self.errors = errors
        self.dedup = dedup
        self.stats = CorpusStats()

    def __iter__(self) -> Iterator[str]:
        stats = CorpusStats()
        seen: set[bytes] = set()
        for path in self.files:
            kept = 0
            for text in _file_texts(path, self.field, self.errors, stats):
                if self.dedup:
                    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
                    if digest in seen:
                        stats.duplicates += 1
                        continue
                    seen.add(digest)
                kept += 1
                stats.texts += 1
                yield text
            stats.per_file[str(path)] = kept
        self.stats = stats

    def require_text(self) -> None:
        """Raise InputError when a full pass finds no text (empty files, or nothing left after cleaning)."""
        if any(True for _ in self):
            return
        names = ", ".join(str(p) for p in self.files)
        raise InputError(
            f"no text in the corpus ({names}): {self.stats.lines} lines read, {self.stats.blank} blank, "
            f"{self.stats.duplicates} duplicates; give files with one text a line (or JSONL with a "
            f"'{self.field}' field, see --field)"
        )


def check_corpus_file(path: Path) -> None:
    """Raise InputError when `path` is missing, a folder, or not one of the corpus formats."""
    if not path.exists():
        raise InputError("corpus file not found; check the path", path=path)
    if not path.is_file():
        raise InputError("is a folder; give the corpus files themselves", path=path)
    if not any(path.name.endswith(suffix) for suffix in SUFFIXES):
        raise InputError(f"unknown corpus format; use one of {', '.join(SUFFIXES)}", path=path)


def _file_texts(path: Path, field: str, errors: str, stats: CorpusStats) -> Iterator[str]:
    is_jsonl = path.name.endswith((".jsonl", ".jsonl.gz"))
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            stats.lines += 1
            line = _decode(raw, path, number, errors)
            text = _jsonl_text(line, field, path, number) if is_jsonl else line
            text = text.strip()
            if not text:
                stats.blank += 1
                continue
            yield text


def _decode(raw: bytes, path: Path, number: int, errors: str) -> str:
    try:
        return raw.decode("utf-8", errors=errors)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not UTF-8 (byte {exc.start + 1} of the line); convert the file to UTF-8 "
            "(iconv -f latin1 -t utf-8) or pass --errors replace",
            path=path,
            line=number,
        ) from None


def _jsonl_text(line: str, field: str, path: Path, number: int) -> str:
    if not line.strip():
        return ""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg}); one JSON object a line", path=path, line=number) from None
    if not isinstance(row, dict) or field not in row:
        raise InputError(f"no '{field}' field; name the text field with --field", path=path, line=number)
    value = row[field]
    if not isinstance(value, str):
        raise InputError(f"field '{field}' is {type(value).__name__}, not text", path=path, line=number)
    return value


def held_out(text: str, fraction: float) -> bool:
    """Whether `text` belongs to the held-out share `fraction` (0..1): decided by its hash, so the same text
    always lands on the same side, whatever file order or pass."""
    if fraction <= 0:
        return False
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8, person=b"heldout").digest()
    return int.from_bytes(digest, "big") / 2**64 < fraction
