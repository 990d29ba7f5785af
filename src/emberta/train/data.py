"""Training data files (JSONL, one example per line), checked line by line with file:line errors:

    pairs         {"anchor": "...", "positive": "..."}
    triplets      {"anchor": "...", "positive": "...", "negative": "..."}
    scored pairs  {"sentence1": "...", "sentence2": "...", "score": 4.2}

The format is taken from the first line's fields; every line must have the same ones.
"""

from __future__ import annotations

from pathlib import Path

from emberta.errors import InputError
from emberta.io.lines import LineSource

FORMATS = {
    "pairs": ("anchor", "positive"),
    "triplets": ("anchor", "positive", "negative"),
    "scored": ("sentence1", "sentence2", "score"),
}


def read_training_file(path: str | Path) -> tuple[str, dict[str, list]]:
    """(format name, columns) of a training file: columns maps each field to its values in file order."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such training file; check the path", path=path)
    kind, columns = None, {}
    for number, obj in LineSource(path).json_objects():
        if kind is None:
            kind = _format_of(obj, path, number)
            columns = {field: [] for field in FORMATS[kind]}
        for field in FORMATS[kind]:
            if field not in obj:
                raise InputError(f"no field {field!r}; every line of a {kind} file needs "
                                 f"{', '.join(FORMATS[kind])}", path=path, line=number)  # fmt: skip
            value = obj[field]
            if field == "score":
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise InputError(f"'score' is {type(value).__name__}, not a number", path=path, line=number)
                value = float(value)
            elif not isinstance(value, str) or not value.strip():
                raise InputError(f"{field!r} must be a non-empty string", path=path, line=number)
            columns[field].append(value)
    if kind is None:
        raise InputError("the training file is empty; expected one JSON object per line", path=path)
    return kind, columns


def _format_of(obj: dict, path: Path, number: int) -> str:
    fields = set(obj)
    for kind in ("triplets", "pairs", "scored"):
        if set(FORMATS[kind]) <= fields:
            return kind
    expected = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in FORMATS.items())
    raise InputError(f"cannot tell the format from the fields {sorted(fields)} (expected {expected})", path=path,
                     line=number)  # fmt: skip
