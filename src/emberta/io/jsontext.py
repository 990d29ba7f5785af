"""Parse JSON a user handed us (a JSON Lines line, a config, a sidecar): every way it can fail (bad syntax,
nesting deeper than the parser's recursion limit, an integer too long to convert, bytes that are not UTF-8) is
an InputError naming the file, and the line when there is one, never a traceback."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from emberta.errors import InputError

# a \uD800-\uDFFF escape: only then can a parsed string hold a lone surrogate (which is not a character)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def parse_json(text: str, *, path: str | Path, line: int | None = None, hint: str = "") -> object:
    """The value of the JSON `text`, read from `path` (`line`: the line it came from; None when `text` is the
    whole file, then a syntax error names its own line). `hint` ends each message (e.g. "; each line must be
    one JSON object"). A string holding half of a surrogate pair (an escape like \\ud800 alone) is refused:
    it is not text, and nothing could write it back as UTF-8."""
    value = _loads(text, path=path, line=line, hint=hint)
    if _SURROGATE_ESCAPE.search(text):
        bad = next((s for s in json_strings(value) if has_lone_surrogate(s)), None)
        if bad is not None:
            raise InputError(
                f"the string {bad[:40]!r} holds half of a surrogate pair (a \\ud800-\\udfff escape without its "
                f"partner), which is not a character; remove the escape or complete the pair{hint}",
                path=path,
                line=line,
            )
    return value


def json_strings(value: object):
    """Every string of a parsed JSON value, keys included (iteratively: the value may be deeply nested)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def has_lone_surrogate(text: str) -> bool:
    """Whether `text` holds half of a surrogate pair (it cannot be written as UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _loads(text: str, *, path: str | Path, line: int | None, hint: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        column = f" at column {exc.colno}" if line is not None else ""
        where = line if line is not None else exc.lineno
        raise InputError(f"not valid JSON ({exc.msg}{column}){hint}", path=path, line=where) from None
    except RecursionError:
        raise InputError(
            f"JSON nested too deeply (arrays or objects more than about {sys.getrecursionlimit()} levels inside "
            f"each other); flatten the value{hint}",
            path=path,
            line=line,
        ) from None
    except ValueError as exc:  # not a syntax error: e.g. an integer of more than 4300 digits
        raise InputError(f"a JSON value cannot be read ({exc}){hint}", path=path, line=line) from None


def read_json_file(path: str | Path, *, name: str | Path | None = None, hint: str = "") -> object:
    """The JSON value held by the file at `path` (UTF-8, a byte-order mark allowed); `name`: what messages
    call the file (default: the path)."""
    name = path if name is None else name
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError("no such file; check the path", path=name) from None
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror}); check its permissions", path=name) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(f"bytes that are not UTF-8 ({data[exc.start : exc.start + 4]!r}); save the file as UTF-8",
                         path=name, line=line) from None  # fmt: skip
    return parse_json(text, path=name, hint=hint)
