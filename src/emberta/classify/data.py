"""Labelled examples for classification: read from .jsonl, .csv, .tsv or .parquet, checked row by row.

Every refusal names the file and line: a missing or empty label, a multi-label row that is not a list, a
missing text field. Labels are kept as strings (a JSON 1 and "1" are the same class).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from emberta.errors import InputError


@dataclass
class Examples:
    """Rows of one labelled file: `texts`, `labels` (one string per row, or a list of strings per row when
    multi-label), `pairs` (second texts, or None), `nuisance` (the --erase-subspace column, or None), `lines`
    (the 1-based line each row came from) and `name` (the file, for messages)."""

    texts: list[str]
    labels: list
    name: str
    lines: list[int] = field(default_factory=list)
    pairs: list[str] | None = None
    nuisance: list[str] | None = None

    def __post_init__(self) -> None:
        if not self.lines:  # built in code rather than read: rows are numbered from 1
            self.lines = list(range(1, len(self.texts) + 1))

    def __len__(self) -> int:
        return len(self.texts)

    def label_set(self) -> list[str]:
        """The sorted distinct labels of the rows."""
        seen: set[str] = set()
        for label in self.labels:
            seen.update(label if isinstance(label, list) else [label])
        return sorted(seen)

    def subset(self, rows: list[int]) -> Examples:
        """The examples at `rows`, in that order."""

        def pick(values):
            return None if values is None else [values[i] for i in rows]

        return Examples([self.texts[i] for i in rows], [self.labels[i] for i in rows], self.name,
                        [self.lines[i] for i in rows], pick(self.pairs), pick(self.nuisance))  # fmt: skip


@dataclass(frozen=True)
class Fields:
    """Where a file keeps each part of an example (the --*-field options)."""

    text: str = "text"
    label: str = "label"
    text_pair: str | None = None
    nuisance: str | None = None
    multi_label: bool = False


def read_examples(path: str | Path, fields: Fields = Fields(), *, labelled: bool = True) -> Examples:
    """The examples of a labelled file; InputError (file:line) for a row without its text, label or list of
    labels. labelled=False reads texts only (a file to predict)."""
    from emberta.io.readers import TextReader

    wanted = [name for name in (fields.label if labelled else None, fields.text_pair, fields.nuisance) if name]
    examples = Examples([], [], str(path))
    if fields.text_pair:
        examples.pairs = []
    if fields.nuisance:
        examples.nuisance = []
    with TextReader(path, field=fields.text, meta_fields=wanted or None) as reader:
        for record in reader:
            meta = record.meta or {}
            examples.texts.append(record.text)
            examples.lines.append(record.line)
            if labelled:
                examples.labels.append(_label(meta.get(fields.label), fields, reader.name, record.line))
            if fields.text_pair:
                examples.pairs.append(_string(meta.get(fields.text_pair), fields.text_pair, reader.name, record.line))
            if fields.nuisance:
                examples.nuisance.append(_scalar(meta.get(fields.nuisance), fields.nuisance, reader.name, record.line))
    return examples


def _label(value, fields: Fields, name: str, line: int):
    if fields.multi_label:
        if isinstance(value, str) and value.strip().startswith("["):  # a CSV cell holding a JSON list
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        if not isinstance(value, list):
            raise InputError(f"field {fields.label!r} is {_kind(value)}, not a list of labels; with --multi-label "
                             f'each row needs a list such as ["sports", "politics"] ([] for none)',
                             path=name, line=line)  # fmt: skip
        return sorted({_scalar(v, fields.label, name, line) for v in value})
    return _scalar(value, fields.label, name, line)


def _scalar(value, field_name: str, name: str, line: int) -> str:
    if value is None:
        raise InputError(f"no label in field {field_name!r}; every row needs one (choose the field with "
                         f"--label-field)", path=name, line=line)  # fmt: skip
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InputError(f"field {field_name!r} is {_kind(value)}, not a label (a string or a number)", path=name,
                         line=line)  # fmt: skip
    text = str(value).strip()
    if not text:
        raise InputError(f"field {field_name!r} is empty; every row needs a label", path=name, line=line)
    return text


def _string(value, field_name: str, name: str, line: int) -> str:
    if not isinstance(value, str):
        raise InputError(f"field {field_name!r} is {_kind(value)}, not a text (--text-pair-field)", path=name,
                         line=line)  # fmt: skip
    return value


def _kind(value) -> str:
    return "missing" if value is None else type(value).__name__
