"""Tagged sentences for token classification: `.jsonl` rows `{"tokens": [...], "tags": [...]}` or CoNLL column
files (one token per line, the token in the first column and its tag in the last, a blank line between
sentences, `-DOCSTART-` lines skipped), checked row by row.

Tag schemes: `bio` (IOB2: `B-x` opens an entity, `I-x` continues it, `O` is outside; IOB1 files read as bio),
`bioes` (also `E-x` ends and `S-x` is a single-token entity), and `none` (plain tags such as parts of speech:
scored by token accuracy). `auto` picks the scheme from the tags. A sequence that breaks its scheme (`I-x`
after `O`, `I-x` after `B-y`) is repaired as the CoNLL scorer reads it (the `I-x` opens an entity) and counted,
or refused with `strict`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from emberta.classify.tagging.schemes import SCHEMES, detect_scheme, repair, tag_type
from emberta.errors import InputError, OptionError

JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
DOCSTART = "-DOCSTART-"


@dataclass
class TaggedSentences:
    """The sentences of one file: `tokens` (a list of words per sentence), `tags` (a list per sentence, or None
    for an unlabelled file), `ids`, `lines` (the 1-based line each sentence starts on), `name` (for messages),
    `scheme` (bio, bioes or none) and `repaired` (how many sentences had their tags repaired)."""

    tokens: list[list[str]]
    tags: list[list[str]] | None
    name: str
    ids: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    scheme: str = "none"
    repaired: int = 0

    def __post_init__(self) -> None:
        if not self.lines:
            self.lines = list(range(1, len(self.tokens) + 1))
        if not self.ids:
            self.ids = [str(i) for i in range(len(self.tokens))]

    def __len__(self) -> int:
        return len(self.tokens)

    def tag_set(self) -> list[str]:
        """The sorted distinct tags."""
        return sorted({t for row in self.tags or [] for t in row})


def read_tagged(path: str | Path, *, scheme: str = "auto", strict: bool = False, labelled: bool = True,
                tokens_field: str = "tokens", tags_field: str = "tags") -> TaggedSentences:  # fmt: skip
    """The sentences of a .jsonl or CoNLL column file. InputError (file:line) for a row without tokens, with
    tokens that are not strings, with as many tags as tokens not, with an empty token list, or (with `strict`)
    with tags that break the scheme. labelled=False reads tokens only (tags, when present, are ignored)."""
    if scheme not in ("auto", *SCHEMES):
        raise OptionError(f"unknown --scheme {scheme!r}; choose auto, {', '.join(SCHEMES)}")
    data = TaggedSentences([], [] if labelled else None, str(path))
    for line, ident, tokens, tags in iter_sentences(path, labelled=labelled, tokens_field=tokens_field,
                                                    tags_field=tags_field):  # fmt: skip
        data.tokens.append(tokens)
        data.lines.append(line)
        data.ids.append(ident if ident is not None else str(len(data.ids)))
        if labelled:
            data.tags.append(tags)
    if not data.tokens:
        raise InputError("no sentences; the file is empty", path=path)
    if labelled:
        check_scheme(data, scheme, strict)
    return data


def iter_sentences(path: str | Path, *, labelled: bool = True, tokens_field: str = "tokens",
                   tags_field: str = "tags") -> Iterator[tuple[int, str | None, list[str], list[str]]]:  # fmt: skip
    """(line, id or None, tokens, tags) of each sentence of a .jsonl or CoNLL file, read one at a time and
    checked as read_tagged checks them (tags [] when not `labelled`); the scheme is not checked here."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path=path)
    reader = _jsonl_rows if path.suffix.lower() in JSONL_SUFFIXES else _conll_rows
    for line, ident, tokens, tags in reader(path, tokens_field, tags_field, labelled):
        if not tokens:
            raise InputError("a sentence with no tokens; remove the row (or give it at least one token)",
                             path=path, line=line)  # fmt: skip
        if labelled and len(tags) != len(tokens):
            raise InputError(f"{len(tokens)} tokens but {len(tags)} tags; give one tag per token", path=path,
                             line=line)  # fmt: skip
        yield line, ident, tokens, tags


def check_scheme(data: TaggedSentences, scheme: str = "auto", strict: bool = False) -> None:
    """Set data.scheme (detected when "auto"), check each tag has the scheme's form, and repair (counting in
    data.repaired) or, with `strict`, refuse sequences that break it."""
    data.scheme = detect_scheme(data.tag_set()) if scheme == "auto" else scheme
    for row, (tags, line) in enumerate(zip(data.tags, data.lines, strict=True)):
        for tag in tags:
            if tag_type(tag, data.scheme) is None:
                raise InputError(f"tag {tag!r} is not a {data.scheme} tag (O, or a prefix "
                                 f"{'/'.join(SCHEMES[data.scheme])}- and a type); fix it or pass --scheme none",
                                 path=data.name, line=line)  # fmt: skip
        fixed, where = repair(tags, data.scheme)
        if where is None:
            continue
        if strict:
            previous = tags[where - 1] if where else "the start"
            raise InputError(f"tag {tags[where]!r} at token {where + 1} after {previous!r} breaks the "
                             f"{data.scheme} scheme; fix it, or drop --strict to repair such tags",
                             path=data.name, line=line)  # fmt: skip
        data.tags[row] = fixed
        data.repaired += 1


def _jsonl_rows(path: Path, tokens_field: str, tags_field: str, labelled: bool):
    with open(path, encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except ValueError as exc:
                raise InputError(f"not valid JSON ({exc})", path=path, line=number) from None
            if not isinstance(row, dict):
                raise InputError("each line must be a JSON object with 'tokens' and 'tags'", path=path, line=number)
            tokens = _strings(row.get(tokens_field), tokens_field, path, number)
            tags = _strings(row.get(tags_field), tags_field, path, number) if labelled else []
            ident = row.get("id")
            yield number, None if ident is None else str(ident), tokens, tags


def _strings(value, name: str, path: Path, line: int) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        kind = "missing" if value is None else type(value).__name__
        raise InputError(f"field {name!r} is {kind}, not a list of strings", path=path, line=line)
    return value


def _conll_rows(path: Path, tokens_field: str, tags_field: str, labelled: bool):
    """(line, None, tokens, tags) per sentence of a column file; the tag is the last column."""
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    with open(path, encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            columns = text.split()
            if columns and columns[0] == DOCSTART:
                continue
            if not columns:
                if tokens:
                    yield start, None, tokens, tags
                tokens, tags = [], []
                continue
            if labelled and len(columns) < 2:
                raise InputError(f"one column ({columns[0]!r}); a CoNLL line holds a token and its tag "
                                 "separated by whitespace", path=path, line=number)  # fmt: skip
            if not tokens:
                start = number
            tokens.append(columns[0])
            tags.append(columns[-1])
    if tokens:
        yield start, None, tokens, tags
