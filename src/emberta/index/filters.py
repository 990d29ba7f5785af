"""Metadata filter expressions: `lang = 'en' and year >= 2020 and tag in ('a', 'b')`.

Our own parser turns the text into a small tree; the tree compiles to **parameterized** SQL (field names map
to the index's own column names, values travel as parameters, so nothing the user typed is ever pasted into
SQL) and, for the dense pre-filter, to a numpy mask over in-memory columns. Both follow SQL's three-valued
logic, so a document with a missing field matches neither `year >= 2020` nor `not year >= 2020`.

Grammar (keywords are case-insensitive):

    expr     := and_expr ("or" and_expr)*
    and_expr := not_expr ("and" not_expr)*
    not_expr := "not" not_expr | "(" expr ")" | test
    test     := FIELD ("=" | "!=" | "<>" | "<" | "<=" | ">" | ">=") VALUE
              | FIELD ["not"] "in" "(" VALUE ("," VALUE)* ")"
              | FIELD ["not"] "between" VALUE "and" VALUE
              | FIELD ["not"] "like" STRING          (% any run, _ one character, ASCII case-insensitive)
              | FIELD "is" ["not"] "null"
    FIELD    := name made of letters, digits, _ . -   |  "any name in double quotes"
    VALUE    := 'string' ('' inside is a quote) | number | true | false
"""

from __future__ import annotations

import bisect
import math
import operator
import re
from dataclasses import dataclass

import numpy as np

from emberta.errors import EmbertaError
from emberta.index.types import Column, Field

FIELD_TYPES = ("number", "text", "bool")
_KEYWORDS = {"and", "or", "not", "in", "is", "null", "like", "between", "true", "false"}
_OPERATORS = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
              ">=": operator.ge}  # fmt: skip
_TOKEN = re.compile(
    r"""\s*(?:
    (?P<string>'(?:[^']|'')*')
  | (?P<unterminated>'(?:[^']|'')*$)
  | (?P<quoted>"(?:[^"]|"")*")
  | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![A-Za-z_]))
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
  | (?P<word>[A-Za-z_][A-Za-z0-9_.\-]*)
  | (?P<bad>\S)
)""",
    re.VERBOSE,
)


class FilterError(EmbertaError):
    """A filter expression that does not parse, or names a field the index cannot filter on."""

    def __init__(self, text: str, column: int, message: str):
        self.text, self.column = text, column
        pointer = " " * (column - 1) + "^"
        super().__init__(f"filter, column {column}: {message}\n  {text}\n  {pointer}")


# ---- the tree ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Compare:
    field: Field
    op: str
    value: object


@dataclass(frozen=True)
class InList:
    field: Field
    values: tuple
    negate: bool


@dataclass(frozen=True)
class Like:
    field: Field
    pattern: str
    negate: bool


@dataclass(frozen=True)
class IsNull:
    field: Field
    negate: bool


@dataclass(frozen=True)
class Not:
    item: object


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    items: tuple


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    column: int  # 1-based


# ---- parsing -----------------------------------------------------------------------------------------------
MAX_DEPTH = 100


def parse_filter(text: str, fields: dict[str, Field]) -> object:
    """Parse `text` into a filter tree over `fields` (name -> Field); raise FilterError naming the column."""
    return _Parser(text, fields).parse()


class _Parser:
    def __init__(self, text: str, fields: dict[str, Field]):
        self.text, self.fields = text, fields
        self.tokens = self._tokenize(text)
        self.at = 0
        self.depth = 0  # open parentheses and 'not's: the parser recurses once per level

    def _tokenize(self, text: str) -> list[_Token]:
        tokens: list[_Token] = []
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:  # only trailing whitespace is left
                break
            kind = match.lastgroup
            value = match.group(kind)
            column = match.start(kind) + 1
            if kind == "unterminated":
                raise FilterError(text, column, "string not closed; end it with a single quote (')")
            if kind == "bad":
                raise FilterError(text, column, f"unexpected character {value!r}")
            if kind == "word" and value.lower() in _KEYWORDS:
                kind, value = "keyword", value.lower()
            tokens.append(_Token(kind, value, column))
            position = match.end()
        tokens.append(_Token("end", "", len(text.rstrip()) + 1))
        return tokens

    # helpers
    def peek(self, offset: int = 0) -> _Token:
        return self.tokens[min(self.at + offset, len(self.tokens) - 1)]

    def take(self) -> _Token:
        token = self.peek()
        self.at += 1
        return token

    def is_keyword(self, word: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token.kind == "keyword" and token.text == word

    def expect_keyword(self, word: str, after: str) -> None:
        if not self.is_keyword(word):
            self.fail(f"expected {word!r} after {after}")
        self.take()

    def expect_punct(self, mark: str, message: str) -> None:
        token = self.peek()
        if token.kind != "punct" or token.text != mark:
            self.fail(message)
        self.take()

    def fail(self, message: str, token: _Token | None = None):
        token = token or self.peek()
        found = "the end of the filter" if token.kind == "end" else repr(token.text)
        raise FilterError(self.text, token.column, f"{message}, found {found}")

    # grammar
    def parse(self) -> object:
        if self.peek().kind == "end":
            raise FilterError(self.text, 1, "the filter is empty; write a test like lang = 'en'")
        tree = self.or_expr()
        if self.peek().kind != "end":
            self.fail("expected 'and', 'or' or the end of the filter")
        return tree

    def or_expr(self) -> object:
        items = [self.and_expr()]
        while self.is_keyword("or"):
            self.take()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else BoolOp("or", tuple(items))

    def and_expr(self) -> object:
        items = [self.not_expr()]
        while self.is_keyword("and"):
            self.take()
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else BoolOp("and", tuple(items))

    def not_expr(self) -> object:
        token = self.peek()
        nests = self.is_keyword("not") or (token.kind == "punct" and token.text == "(")
        if not nests:
            return self.test()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterError(self.text, token.column, f"nested more than {MAX_DEPTH} levels deep ('(' or 'not'); "
                                                        "flatten the filter")  # fmt: skip
        self.take()
        if token.kind == "keyword":
            tree = Not(self.not_expr())
        else:
            tree = self.or_expr()
            self.expect_punct(")", "expected ')' to close the '(' at column " + str(token.column))
        self.depth -= 1
        return tree

    def test(self) -> object:
        field = self.field()
        token = self.peek()
        if token.kind == "op":
            self.take()
            return Compare(field, "!=" if token.text == "<>" else token.text, self.value(field, token.text))
        if self.is_keyword("is"):
            self.take()
            negate = self.is_keyword("not")
            if negate:
                self.take()
            self.expect_keyword("null", "'is'" + (" not" if negate else ""))
            return IsNull(field, negate)
        negate = self.is_keyword("not")
        if negate:
            self.take()
        if self.is_keyword("in"):
            self.take()
            self.expect_punct("(", "expected '(' to open the list after 'in'")
            values = [self.value(field, "in")]
            while self.peek().kind == "punct" and self.peek().text == ",":
                self.take()
                values.append(self.value(field, "in"))
            self.expect_punct(")", "expected ',' or ')' in the list")
            return InList(field, tuple(values), negate)
        if self.is_keyword("between"):
            self.take()
            low = self.value(field, "between")
            self.expect_keyword("and", "the lower bound of 'between'")
            high = self.value(field, "between")
            tree = BoolOp("and", (Compare(field, ">=", low), Compare(field, "<=", high)))
            return Not(tree) if negate else tree
        if self.is_keyword("like"):
            like = self.take()
            pattern = self.take()
            if pattern.kind != "string":
                self.fail("'like' takes a quoted pattern such as 'intro%'", pattern)
            if field.type != "text":
                raise FilterError(
                    self.text, like.column, f"'like' needs a text field; {field.name!r} holds {field.type}"
                )
            return Like(field, _unquote(pattern.text), negate)
        self.fail(
            f"expected a comparison (= != < <= > >=), 'in', 'between', 'like' or 'is null' after field {field.name!r}"
        )

    def field(self) -> Field:
        token = self.take()
        if token.kind == "quoted":
            name = token.text[1:-1].replace('""', '"')
        elif token.kind == "word":
            name = token.text
        elif token.kind == "keyword":
            raise FilterError(
                self.text, token.column, f'{token.text!r} is a keyword; quote a field of that name: "{token.text}"'
            )
        else:
            self.fail("expected a field name", token)
        if name not in self.fields:
            known = ", ".join(sorted(self.fields)) or "none (the index has no filterable metadata)"
            raise FilterError(self.text, token.column, f"unknown field {name!r}; filterable fields: {known}")
        return self.fields[name]

    def value(self, field: Field, after: str) -> object:
        token = self.take()
        if token.kind == "string":
            value: object = _unquote(token.text)
        elif token.kind == "number":
            value = float(token.text)  # 1e999 is inf, as in SQLite
            if re.fullmatch(r"[-+]?\d+", token.text):
                if not math.isfinite(value):
                    raise FilterError(self.text, token.column, f"the whole number {token.text[:20]}... is too large")
                value = int(value)
        elif token.kind == "keyword" and token.text in ("true", "false"):
            value = token.text == "true"
        elif token.kind == "keyword" and token.text == "null":
            raise FilterError(self.text, token.column, "compare with null using 'is null' or 'is not null'")
        else:
            self.fail(f"expected a value ('text', a number, true or false) after {after!r}", token)
        return _check_type(self.text, token, field, value)


def _unquote(literal: str) -> str:
    return literal[1:-1].replace("''", "'")


def _check_type(text: str, token: _Token, field: Field, value: object) -> object:
    kind = "bool" if isinstance(value, bool) else "number" if isinstance(value, (int, float)) else "text"
    if field.type == "bool" and kind == "number" and value in (0, 1):
        return bool(value)
    if kind != field.type:
        raise FilterError(text, token.column, f"field {field.name!r} holds {field.type} values, not {kind}")
    return value


# ---- SQL ---------------------------------------------------------------------------------------------------
def to_sql(tree: object) -> tuple[str, list]:
    """A WHERE-clause fragment with `?` placeholders and its parameters. Column names come from the index's
    own schema (f0, f1, ...), never from the filter text."""
    params: list = []
    return _sql(tree, params), params


def _sql(node: object, params: list) -> str:
    if isinstance(node, BoolOp):
        return "(" + f" {node.op.upper()} ".join(_sql(item, params) for item in node.items) + ")"
    if isinstance(node, Not):
        return f"(NOT {_sql(node.item, params)})"
    column = node.field.column
    if isinstance(node, Compare):
        params.append(_sql_value(node.value))
        return f"({column} {node.op} ?)"
    if isinstance(node, InList):
        params.extend(_sql_value(v) for v in node.values)
        marks = ", ".join("?" * len(node.values))
        return f"({column} {'NOT IN' if node.negate else 'IN'} ({marks}))"
    if isinstance(node, Like):
        params.append(node.pattern)
        return f"({column} {'NOT LIKE' if node.negate else 'LIKE'} ?)"
    if isinstance(node, IsNull):
        return f"({column} IS {'NOT NULL' if node.negate else 'NULL'})"
    raise TypeError(f"not a filter node: {node!r}")


def _sql_value(value: object) -> object:
    return int(value) if isinstance(value, bool) else value


# ---- numpy -------------------------------------------------------------------------------------------------
def evaluate(tree: object, columns: dict[str, Column]) -> np.ndarray:
    """The boolean mask (SQL truth) of `tree` over in-memory `columns` (keyed by SQL column name)."""
    true, _unknown = _eval(tree, columns)
    return true


def _eval(node: object, columns: dict[str, Column]) -> tuple[np.ndarray, np.ndarray]:
    """(true, unknown) masks: SQL three-valued logic, where a comparison with a missing value is unknown."""
    if isinstance(node, BoolOp):
        parts = [_eval(item, columns) for item in node.items]
        trues = [t for t, _ in parts]
        falses = [~t & ~u for t, u in parts]
        if node.op == "and":
            true, false = np.logical_and.reduce(trues), np.logical_or.reduce(falses)
        else:
            true, false = np.logical_or.reduce(trues), np.logical_and.reduce(falses)
        return true, ~true & ~false
    if isinstance(node, Not):
        true, unknown = _eval(node.item, columns)
        return ~true & ~unknown, unknown
    column = columns[node.field.column]
    missing = column.missing
    if isinstance(node, IsNull):
        return (~missing if node.negate else missing), np.zeros_like(missing)
    if isinstance(node, Compare):
        true = _compare(column, node.op, node.value)
    elif isinstance(node, InList):
        true = np.logical_or.reduce([_compare(column, "=", v) for v in node.values])
        if node.negate:
            true = ~true
    else:  # Like
        flags = re.ASCII | re.IGNORECASE | re.DOTALL
        pattern = re.compile(
            "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in node.pattern), flags
        )
        hits = [i for i, category in enumerate(column.categories) if pattern.fullmatch(category)]
        true = np.isin(column.codes, np.asarray(hits, dtype=np.int32))
        if node.negate:
            true = ~true
    return true & ~missing, missing


def _compare(column: Column, op: str, value: object) -> np.ndarray:
    if column.type != "text":
        with np.errstate(invalid="ignore"):
            return _OPERATORS[op](column.values, float(value))
    # text: codes follow the sorted categories, so an order test on the value is one on its insertion points
    codes, categories = column.codes, column.categories
    left, right = bisect.bisect_left(categories, value), bisect.bisect_right(categories, value)
    if op in ("=", "!="):
        equal = codes == left if left < right else np.zeros(len(codes), dtype=bool)
        return equal if op == "=" else ~equal
    bound = {"<": left, "<=": right, ">": right, ">=": left}[op]
    return codes < bound if op in ("<", "<=") else codes >= bound
