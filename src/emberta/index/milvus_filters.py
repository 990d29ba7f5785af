"""emberta's filter language (filters.py) as Milvus boolean expressions.

The tree that `parse_filter` builds is compiled again here, for a Milvus collection whose typed scalar fields are
named by the index (f0, f1, ...: field names come from the index's own schema, never from the filter text).
Values go one of two ways:

- as expression parameters (`filter_params`, Milvus 2.5+): the expression holds `{p0}`, `{p1}`, ... (a whole
  `in` list is one parameter) and the values travel beside it, so nothing the user typed becomes expression text
  (except `like` patterns: Milvus's grammar takes a LIKE pattern only as a literal, so they are always written by
  `milvus_literal`);
- where the server refuses templates (Milvus Lite 3.2 does), as literals written by `milvus_literal`, the one
  function that escapes a value for Milvus's expression grammar.

SQL's three-valued logic (a document without the field matches neither `year >= 2020` nor `not year >= 2020`)
is spelled out rather than left to the server (Milvus Lite's `not in` passes documents without the field): each
node compiles to the expression that is true exactly when the node is SQL-true, or exactly when it is SQL-false,
and `not` swaps the two, so the expression never needs Milvus's own negation of a null.

`like` is ASCII case-insensitive in emberta; Milvus's LIKE is case-sensitive, so text fields keep an
ASCII-lower-cased copy (`fold_column`) that `like` tests with a lower-cased pattern. A backslash in a pattern is a
literal character in emberta and Milvus's LIKE escape, so it is doubled.
"""

from __future__ import annotations

import math
import operator

from emberta.index.filters import BoolOp, Compare, InList, IsNull, Like, Not
from emberta.index.types import Field

_NEGATED = {"=": "!=", "!=": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_MILVUS_OPS = {"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_PY_OPS = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
           ">=": operator.ge}  # fmt: skip
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def fold_column(column: str) -> str:
    """The field holding the ASCII-lower-cased copy of text field `column`, for case-insensitive `like`."""
    return f"{column}_fold"


def ascii_fold(text: str) -> str:
    """`text` with A-Z lower-cased and every other character kept (what emberta's `like` ignores)."""
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}


def milvus_literal(value: object) -> str:
    """`value` (str, bool, int or float) written as a Milvus expression literal that reads back as exactly that
    value: strings double-quoted with backslash, double quote, newline, carriage return and tab escaped (the
    escapes both Milvus and Milvus Lite decode; every other character stands for itself), booleans as true/false,
    numbers as floating-point literals (the fields are DOUBLE), infinities as 1e999 / -1e999. ValueError for a
    NaN, or a string holding half of a surrogate pair (not text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        number = _as_float(value)
        if math.isnan(number):
            raise ValueError("NaN has no Milvus literal")
        if math.isinf(number):
            return "1e999" if number > 0 else "-1e999"
        return repr(number)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("a string holding half of a surrogate pair has no Milvus literal") from None
        return '"' + "".join(_ESCAPES.get(c, c) for c in value) + '"'
    raise TypeError(f"no Milvus literal for {type(value).__name__}")


def _as_float(value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:  # a whole number beyond float's range: the DOUBLE fields hold it as an infinity
        return math.inf if value > 0 else -math.inf


def like_pattern(pattern: str) -> str:
    """emberta's `like` pattern (% and _ wildcards, everything else literal, ASCII case ignored) as the pattern
    Milvus's LIKE tests against the folded copy of the field."""
    return ascii_fold(pattern).replace("\\", "\\\\")


def to_milvus(tree: object, params: dict | None = None) -> str:
    """The Milvus boolean expression of a parsed filter `tree`. params=None: values are written as literals
    (`milvus_literal`); a dict: values are added to it as p0, p1, ... and the expression holds {p0}, {p1}, ...
    (pass it as the search's `filter_params`)."""
    return _Compiler(params).true(tree)


class _Compiler:
    def __init__(self, params: dict | None):
        self.params = params

    def value(self, value: object) -> str:
        if self.params is None:
            return milvus_literal(value)
        name = f"p{len(self.params)}"
        self.params[name] = value if isinstance(value, (bool, str)) else _as_float(value)
        return "{" + name + "}"

    def values(self, values: list) -> str:
        """A list of values: one list parameter, or a list literal."""
        if self.params is None:
            return "[" + ", ".join(milvus_literal(v) for v in values) + "]"
        name = f"p{len(self.params)}"
        self.params[name] = [v if isinstance(v, (bool, str)) else _as_float(v) for v in values]
        return "{" + name + "}"

    def true(self, node: object) -> str:
        """The expression true exactly where `node` is SQL-true."""
        return self._compile(node, want=True)

    def _compile(self, node: object, want: bool) -> str:
        if isinstance(node, Not):
            return self._compile(node.item, not want)
        if isinstance(node, BoolOp):
            joiner = " and " if (node.op == "and") == want else " or "  # De Morgan for the false side
            return "(" + joiner.join(self._compile(item, want) for item in node.items) + ")"
        field: Field = node.field
        column = field.column
        if isinstance(node, IsNull):
            return f"({column} is {'not null' if node.negate == want else 'null'})"
        present = f"{column} is not null"
        if isinstance(node, Compare):
            op = node.op if want else _NEGATED[node.op]
            if field.type == "bool":
                return self._bool_test(column, op, bool(node.value))
            return f"({present} and {column} {_MILVUS_OPS[op]} {self.value(node.value)})"
        if isinstance(node, InList):
            inside = node.negate != want
            values = [bool(v) for v in node.values] if field.type == "bool" else list(node.values)
            return f"({present} and {column} {'in' if inside else 'not in'} {self.values(values)})"
        if isinstance(node, Like):  # Milvus's grammar takes LIKE's pattern as a literal only, never a template
            folded = fold_column(column)
            test = f"{folded} like {milvus_literal(like_pattern(node.pattern))}"
            return f"({present} and {test})" if node.negate != want else f"({present} and not ({test}))"
        raise TypeError(f"not a filter node: {node!r}")

    def _bool_test(self, column: str, op: str, value: bool) -> str:
        """A comparison of a bool field as the stored values that pass it (Milvus orders no booleans)."""
        passing = [b for b in (False, True) if _PY_OPS[op](b, value)]
        if len(passing) == 2:
            return f"({column} is not null)"
        if not passing:
            return f"({column} == true and {column} == false)"
        return f"({column} is not null and {column} == {self.value(passing[0])})"
