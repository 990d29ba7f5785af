"""Filter expressions: parsing, errors with columns, parameterized SQL, and the numpy evaluator agreeing with
SQLite on random data and random expressions."""

from __future__ import annotations

import random
import sqlite3

import numpy as np
import pytest

from emberta.index.documents import DocumentStore, NewDocument
from emberta.index.filters import Field, FilterError, evaluate, parse_filter, to_sql

FIELDS = {
    "lang": Field("lang", "f0", "text"),
    "year": Field("year", "f1", "number"),
    "ok": Field("ok", "f2", "bool"),
    "my field": Field("my field", "f3", "text"),
}


def test_example_from_the_issue_becomes_parameterized_sql():
    tree = parse_filter("lang = 'en' and year >= 2020 and lang in ('a','b')", FIELDS)
    sql, params = to_sql(tree)
    assert sql == "((f0 = ?) AND (f1 >= ?) AND (f0 IN (?, ?)))"
    assert params == ["en", 2020, "a", "b"]


@pytest.mark.parametrize(
    ("text", "sql", "params"),
    [
        ("year between 2000 and 2010", "((f1 >= ?) AND (f1 <= ?))", [2000, 2010]),
        ("not ok = true", "(NOT (f2 = ?))", [1]),
        ("lang is not null or year < -1.5e3", "((f0 IS NOT NULL) OR (f1 < ?))", [-1500.0]),
        ("lang not like 'e%'", "(f0 NOT LIKE ?)", ["e%"]),
        ("\"my field\" <> 'it''s'", "(f3 != ?)", ["it's"]),
        ("LANG_X = 1" if False else "lang NOT IN ('x')", "(f0 NOT IN (?))", ["x"]),
        ("(lang = 'a' or lang = 'b') and ok = 0", "(((f0 = ?) OR (f0 = ?)) AND (f2 = ?))", ["a", "b", 0]),
    ],
)
def test_grammar(text, sql, params):
    assert to_sql(parse_filter(text, FIELDS)) == (sql, params)


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("lang = ", 7, "expected a value"),
        ("lang = 'en' and", 16, "expected a field name"),
        ("lang == 'en'", 7, "expected a value"),
        ("lang = 'en", 8, "string not closed"),
        ("lang = 'en' year = 1", 13, "expected 'and', 'or'"),
        ("colour = 'red'", 1, "unknown field 'colour'"),
        ("year = 'x'", 8, "holds number values, not text"),
        ("lang in ('a' 'b')", 14, "expected ',' or ')'"),
        ("(lang = 'a'", 12, "expected ')'"),
        ("lang ~ 'a'", 6, "unexpected character '~'"),
        ("year like '2%'", 6, "'like' needs a text field"),
        ("lang = null", 8, "is null"),
        ("", 1, "empty"),
        ("and = 1", 1, "keyword"),
    ],
)
def test_malformed_filters_point_at_the_column(text, column, message):
    with pytest.raises(FilterError) as info:
        parse_filter(text, FIELDS)
    assert info.value.column == column, str(info.value)
    assert message in str(info.value)
    assert str(info.value).splitlines()[-1].index("^") == column + 1  # pointer under the column (2-space indent)


def test_field_names_and_values_never_reach_the_sql_text():
    evil = "x'); DROP TABLE documents; --"
    fields = {**FIELDS, evil: Field(evil, "f9", "text")}
    sql, params = to_sql(parse_filter(f"\"{evil}\" = '{evil.replace(chr(39), chr(39) * 2)}'", fields))
    assert sql == "(f9 = ?)" and params == [evil]
    assert "DROP" not in sql


# ---- the numpy evaluator agrees with SQLite ---------------------------------------------------------------
@pytest.fixture(scope="module")
def store(tmp_path_factory):
    rng = random.Random(0)
    docs = []
    for i in range(400):
        meta = {}
        if rng.random() < 0.9:
            meta["lang"] = rng.choice(["en", "de", "fr", "En", "es-MX", "ü"])
        if rng.random() < 0.85:
            meta["year"] = rng.choice([1999, 2000, 2010.5, 2020, 2024, -3])
        if rng.random() < 0.8:
            meta["ok"] = rng.random() < 0.5
        docs.append(NewDocument(f"d{i}", f"text {i}", meta))
    store = DocumentStore(tmp_path_factory.mktemp("filters") / "docs.sqlite", create=True)
    store.begin()
    store.insert(docs, 0)
    store.commit()
    store.delete_slots([3, 50, 51])
    return store


def _random_filter(rng: random.Random, depth: int = 0) -> str:
    if depth < 2 and rng.random() < 0.45:
        op = rng.choice(["and", "or"])
        inner = f"{_random_filter(rng, depth + 1)} {op} {_random_filter(rng, depth + 1)}"
        return f"not ({inner})" if rng.random() < 0.2 else f"({inner})"
    field = rng.choice(["lang", "year", "ok"])
    if rng.random() < 0.1:
        return f"{field} is {rng.choice(['', 'not '])}null"
    if field == "lang":
        value = rng.choice(["'en'", "'de'", "'e'", "'zz'", "'ü'", "'En'"])
        if rng.random() < 0.2:
            return f"lang {rng.choice(['', 'not '])}in ({value}, 'fr')"
        if rng.random() < 0.15:
            return f"lang {rng.choice(['', 'not '])}like '{rng.choice(['e%', '%N', '_s%', 'ü', '%'])}'"
        return f"lang {rng.choice(['=', '!=', '<', '<=', '>', '>='])} {value}"
    if field == "year":
        if rng.random() < 0.15:
            return f"year {rng.choice(['', 'not '])}between 2000 and 2020"
        return f"year {rng.choice(['=', '!=', '<', '<=', '>', '>='])} {rng.choice(['2000', '2010.5', '0', '2030'])}"
    return f"ok {rng.choice(['=', '!='])} {rng.choice(['true', 'false'])}"


def test_numpy_evaluation_equals_sqlite_on_random_filters(store):
    live, _ids, columns = store.columns(store.slots)
    rng = random.Random(1)
    fields = store.fields()
    for _ in range(300):
        text = _random_filter(rng)
        tree = parse_filter(text, fields)
        by_sql = set(store.filter_slots(tree).tolist())
        by_numpy = set(np.flatnonzero(evaluate(tree, columns) & live).tolist())
        assert by_sql == by_numpy, text


# shared with tests/test_milvus.py, which runs them against the Milvus store
INJECTION_VALUES = ["' OR 1=1 --", "en'; DELETE FROM documents; --", "%' OR '1'='1"]


def test_injection_attempts_in_values_are_inert(store):
    fields = store.fields()
    for value in INJECTION_VALUES:
        quoted = value.replace("'", "''")
        tree = parse_filter(f"lang = '{quoted}'", fields)
        assert store.filter_slots(tree).size == 0
    assert store.count() == 397
    with pytest.raises(sqlite3.Error):  # the parameters really are parameters: this is not valid SQL
        store.conn.execute("SELECT slot FROM documents WHERE " + to_sql(parse_filter("lang = 'x'", fields))[0])
