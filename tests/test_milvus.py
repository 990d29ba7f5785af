"""The Milvus store (Milvus Lite, in-process): built from the same vectors as a local index, its dense search,
filtered and not, returns the local index's exact answers; add, upsert and delete keep it so; the filter
translation keeps SQL's three-valued logic on random filters over metadata with missing values; injection
attempts are inert; the literal escaping function reads back through Milvus Lite's own tokenizer; a collection
of another dimension or model is refused; an unreachable server fails fast; the CLI answers each bad input with
one line and exit code 2."""

from __future__ import annotations

import json
import random
import socket

import numpy as np
import pytest
from typer.testing import CliRunner

from emberta.cli.main import app
from emberta.errors import EmbertaError, InputError, OptionError
from emberta.index import DuplicateIdError, FilterError, Index, MilvusIndex, open_index
from emberta.index.filters import parse_filter
from emberta.index.fusion import reciprocal_rank_fusion
from emberta.index.milvus_filters import milvus_literal, to_milvus
from emberta.index.types import Field
from test_index_filters import INJECTION_VALUES

pytest.importorskip("milvus_lite")

DIM, FP, N = 16, "a" * 64, 300
LANGS = ["en", "de", "En", "ü", "a\\b", 'q"t', "it's", "line\nbreak", "x%y", "_"]
FIELDS = {"lang": "text", "year": "number", "ok": "bool"}
runner = CliRunner()


def corpus(n: int, seed: int = 0):
    rng = random.Random(seed)
    vectors = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    metas = []
    for _ in range(n):
        meta = {}
        if rng.random() < 0.85:
            meta["lang"] = rng.choice(LANGS)
        if rng.random() < 0.8:
            meta["year"] = rng.choice([1999, 2000, 2010.5, 2020, -3, 1e300])
        if rng.random() < 0.75:
            meta["ok"] = rng.random() < 0.5
        if rng.random() < 0.1:
            meta["tags"] = ["x", "y"]  # not a scalar: kept in the metadata, not filterable
        metas.append(meta)
    words = ["apple", "banana", "cherry", "delta", "echo", "foxtrot"]
    texts = [f"{words[i % 6]} {words[(i * 5) % 6]} number {i}" for i in range(n)]
    return vectors, [f"d{i}" for i in range(n)], texts, metas


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """(Milvus index, local index, vectors) holding the same documents."""
    folder = tmp_path_factory.mktemp("milvus")
    vectors, ids, texts, metas = corpus(N)
    milvus = MilvusIndex.create(str(folder / "m.db"), "docs", model=None, dim=DIM, fingerprint=FP, fields=FIELDS,
                                ann="flat")  # fmt: skip
    local = Index.create(folder / "local", model=None, dim=DIM, fingerprint=FP, ann="flat")
    for index in (milvus, local):
        index.add(texts, ids, metas, vectors=vectors, fingerprint=FP)
    yield milvus, local, vectors
    milvus.close()
    local.close()


def same(milvus_hits, local_hits):
    assert [h.id for h in milvus_hits] == [h.id for h in local_hits]
    assert [h.score for h in milvus_hits] == pytest.approx([h.score for h in local_hits], abs=1e-5)
    assert [(h.text, h.metadata) for h in milvus_hits] == [(h.text, h.metadata) for h in local_hits]


def random_filter(rng: random.Random, depth: int = 0) -> str:
    if depth < 2 and rng.random() < 0.45:
        inner = f"{random_filter(rng, depth + 1)} {rng.choice(['and', 'or'])} {random_filter(rng, depth + 1)}"
        return f"not ({inner})" if rng.random() < 0.25 else f"({inner})"
    field = rng.choice(["lang", "year", "ok"])
    if rng.random() < 0.1:
        return f"{field} is {rng.choice(['', 'not '])}null"
    if field == "lang":
        value = "'" + rng.choice([*LANGS, "e", "zz"]).replace("'", "''") + "'"
        roll = rng.random()
        if roll < 0.2:
            return f"lang {rng.choice(['', 'not '])}in ({value}, 'de')"
        if roll < 0.4:
            pattern = rng.choice(["e%", "%N", "_", "a\\%", "%'%", "X%", "%\n%", "%"]).replace("'", "''")
            return f"lang {rng.choice(['', 'not '])}like '{pattern}'"
        return f"lang {rng.choice(['=', '!=', '<', '<=', '>', '>='])} {value}"
    if field == "year":
        if rng.random() < 0.15:
            return f"year {rng.choice(['', 'not '])}between 2000 and 2020"
        return f"year {rng.choice(['=', '!=', '<', '<=', '>', '>='])} {rng.choice(['2000', '2010.5', '-3', '1e999'])}"
    return f"ok {rng.choice(['=', '!=', '<', '>=', '>'])} {rng.choice(['true', 'false', '1'])}"


# ---- search equals the local index's exact search ---------------------------------------------------------------
def test_dense_search_equals_local_exact_search(pair):
    milvus, local, vectors = pair
    for q in (0, 17, 299):
        same(milvus.search(vectors[q], 10), local.search(vectors[q], 10, exact=True))
    batch = milvus.search_many(vectors[:5], 7)
    for q, hits in enumerate(batch):
        same(hits, local.search(vectors[q], 7, exact=True))
    bare = milvus.search(vectors[3], 3, include=())
    assert bare[0].id == "d3" and bare[0].text is None and bare[0].metadata is None
    assert len(milvus) == N and milvus.get("d5")[2:] == local.get("d5")[2:] and milvus.get("nope") is None


@pytest.mark.parametrize("exact_below", [2048, 0])  # Lite: scan the passing vectors / Milvus's filtered search
def test_random_filters_select_what_the_local_index_selects(pair, monkeypatch, exact_below):
    monkeypatch.setattr("emberta.index.milvus_prefilter.EXACT_BELOW", exact_below)
    milvus, local, vectors = pair
    rng = random.Random(7 + exact_below)
    for i in range(40):
        text = random_filter(rng)
        query = vectors[i]
        every = milvus.search(query, N, filter=text, include=())
        assert {h.id for h in every} == {h.id for h in local.search(query, N, filter=text, exact=True)}, text
        same(milvus.search(query, 5, filter=text), local.search(query, 5, filter=text, exact=True))


def test_injection_attempts_are_inert(pair):
    milvus, local, vectors = pair
    attempts = [*INJECTION_VALUES, '" or id != "', '\\" or true or \\"', "x\\", "{p0}", '"] or id in ["d1',
                "en\nor true"]  # fmt: skip
    for value in attempts:
        quoted = value.replace("'", "''")
        for text in (f"lang = '{quoted}'", f"lang in ('{quoted}')", f"lang like '{quoted}'"):
            assert milvus.search(vectors[0], N, filter=text) == [], text
    assert len(milvus) == N
    for value in ("a\\b", 'q"t', "it's", "line\nbreak"):  # stored values with the same characters are found
        quoted = value.replace("'", "''")
        found = {h.id for h in milvus.search(vectors[0], N, filter=f"lang = '{quoted}'", include=())}
        assert found == {h.id for h in local.search(vectors[0], N, filter=f"lang = '{quoted}'", exact=True)} != set()
    with pytest.raises(FilterError):
        milvus.search(vectors[0], 3, filter="lang = 'en' or 1 == 1")


def test_bm25_and_hybrid(pair):
    milvus, _, vectors = pair
    assert milvus.search("number 123", 1, mode="bm25")[0].id == "d123"
    dense = [h.id for h in milvus.search("cherry", 100, vector=vectors[2], mode="dense")]
    lexical = [h.id for h in milvus.search("cherry", 100, mode="bm25")]
    fused = reciprocal_rank_fusion([dense, lexical], (1.0, 0.5))[:10]
    hybrid = milvus.search("cherry", 10, vector=vectors[2], mode="hybrid", weights=(1.0, 0.5))
    assert [(h.id, pytest.approx(h.score)) for h in hybrid] == fused


def test_overview_equals_the_local_index(pair):
    milvus, local, _ = pair
    assert milvus.overview()["fields"] == local.overview()["fields"]
    assert milvus.overview()["documents"] == N and milvus.info()["fields"] == FIELDS


# ---- writing ----------------------------------------------------------------------------------------------------
def test_add_upsert_delete_stay_equal_to_local(tmp_path):
    vectors, ids, texts, metas = corpus(80, seed=3)
    milvus = MilvusIndex.create(str(tmp_path / "w.db"), "w", model=None, dim=DIM, fingerprint=FP, fields=FIELDS)
    local = Index.create(tmp_path / "local", model=None, dim=DIM, fingerprint=FP, ann="flat")
    for index in (milvus, local):
        assert index.add(texts[:60], ids[:60], metas[:60], vectors=vectors[:60], fingerprint=FP)["added"] == 60
        with pytest.raises(DuplicateIdError, match="'d5' is already in the index"):
            index.add(texts[5:6], ids[5:6], metas[5:6], vectors=vectors[5:6], fingerprint=FP)
        changed = index.add(texts[55:80], ids[55:80], metas[60:80] + metas[:5], vectors=vectors[55:80],
                            fingerprint=FP, upsert=True)  # fmt: skip
        assert changed == {"added": 20, "replaced": 5}
        assert index.delete(["d1", "d70"]) == 2
        with pytest.raises(InputError, match="no document with id 'd1'"):
            index.delete(["d1"])
        assert index.delete(["d1", "d2"], missing_ok=True) == 1
    assert len(milvus) == len(local) == 77
    for q in (0, 56, 79):
        same(milvus.search(vectors[q], 10), local.search(vectors[q], 10, exact=True))
        same(milvus.search(vectors[q], 10, filter="ok = true or year > 2000"),
             local.search(vectors[q], 10, filter="ok = true or year > 2000", exact=True))  # fmt: skip
    with pytest.raises(InputError, match="Milvus Lite cannot add fields"):
        milvus.add(["t"], ["new"], [{"colour": "red"}], vectors=vectors[:1], fingerprint=FP)
    with pytest.raises(InputError, match="is text here but number"):
        milvus.add(["t"], ["new"], [{"year": "soon"}], vectors=vectors[:1], fingerprint=FP)
    milvus.close()
    with MilvusIndex.open(str(tmp_path / "w.db"), "w") as reader:  # reopened in a fresh client: loaded, same
        assert len(reader) == 77
        with pytest.raises(OptionError, match="open for reading"):
            reader.delete(["d3"])


def test_a_server_uri_takes_the_same_code(tmp_path, pair):
    """Milvus Lite's gRPC server on a loopback port stands in for a Milvus server: the http:// path (no Lite file,
    a template probe the server refuses, so escaped literals; fields cannot be added there) gives the same hits."""
    import subprocess
    import sys
    import time

    _, local, vectors = pair
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "milvus_lite", "server", "--data-dir", tmp_path / "data", "--host", "127.0.0.1",
               "--port", str(port)]  # fmt: skip
    server = subprocess.Popen([str(c) for c in command], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        uri, index = f"http://127.0.0.1:{port}", None
        for _ in range(120):  # the server starts in a few seconds
            try:
                index = MilvusIndex.create(uri, "srv", model=None, dim=DIM, fingerprint=FP, fields=FIELDS, ann="flat")
                break
            except OptionError:
                time.sleep(0.25)
        assert index is not None, "the Milvus Lite server did not start"
        _, ids, texts, metas = corpus(N)
        index.add(texts, ids, metas, vectors=vectors, fingerprint=FP)
        for text in (None, "lang = 'a\\b' or year > 2000", "not ok = true and lang like '%N'"):
            same(index.search(vectors[9], 8, filter=text), local.search(vectors[9], 8, filter=text, exact=True))
        assert index.info()["server"] == "Milvus server"
        with pytest.raises(EmbertaError, match="adding field 'colour' failed"):
            index.add(["t"], ["new"], [{"colour": "red"}], vectors=vectors[:1], fingerprint=FP)
        index.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


# ---- refusals ---------------------------------------------------------------------------------------------------
class _Encoder:
    name, dim, fingerprint, prompts = "other", DIM, "b" * 64, {}


def test_other_dimension_or_model_is_refused(tmp_path, pair):
    milvus, _, vectors = pair
    uri = milvus.uri
    with pytest.raises(OptionError, match="gives other vectors"):
        MilvusIndex.open(uri, "docs", encoder=_Encoder())
    assert MilvusIndex.open(uri, "docs", encoder=_Encoder(), own_encoder_fallback=True).embedder._loaded is None
    with pytest.raises(InputError, match="another encoder"):
        milvus.add(["x"], ["x"], vectors=vectors[:1], fingerprint="b" * 64)
    with pytest.raises(InputError, match="shape"):
        milvus.add(["x"], ["x"], vectors=np.ones((1, DIM + 1), np.float32), fingerprint=FP)
    with pytest.raises(OptionError, match="already exists"):
        MilvusIndex.create(uri, "docs", model=None, dim=DIM, fingerprint=FP)
    from pymilvus import DataType

    schema = milvus.client.create_schema(auto_id=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=8)
    params = milvus.client.prepare_index_params()
    params.add_index("vector", index_type="FLAT", metric_type="IP")
    config = json.dumps({"dim": DIM, "fingerprint": FP, "format_version": 1})
    milvus.client.create_collection("tampered", schema=schema, index_params=params,
                                    properties={"emberta.config": config})  # fmt: skip
    milvus.client.create_collection("foreign", schema=schema, index_params=params)
    with pytest.raises(InputError, match="dimension 8 but was built for 16"):
        MilvusIndex.open(uri, "tampered")
    with pytest.raises(InputError, match="not made by emberta"):
        MilvusIndex.open(uri, "foreign")
    with pytest.raises(OptionError, match="hubness"):
        milvus.search(vectors[0], 3, hubness="csls")


def test_unreachable_server_fails_fast_and_missing_pymilvus_names_the_extra(monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(OptionError, match=f"cannot reach Milvus at http://127.0.0.1:{port}"):
        open_index(f"http://127.0.0.1:{port}", store="milvus")
    monkeypatch.setitem(__import__("sys").modules, "pymilvus", None)
    with pytest.raises(OptionError, match=r"pip install 'emberta\[milvus\]'"):
        open_index("./x.db", store="milvus")


# ---- the translation, alone -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, literal",
    [("en", '"en"'), ('a"b', '"a\\"b"'), ("a\\b", '"a\\\\b"'), ("it's", '"it\'s"'), ("l\nm\r\tn", '"l\\nm\\r\\tn"'),
     ("ü{p0}%_", '"ü{p0}%_"'), (True, "true"), (False, "false"), (3, "3.0"), (-2.5, "-2.5"), (1e300, "1e+300"),
     (float("inf"), "1e999"), (-(10**400), "-1e999")],
)  # fmt: skip
def test_milvus_literal(value, literal):
    assert milvus_literal(value) == literal
    from milvus_lite.search.filter.tokens import tokenize  # Milvus Lite's own reader of expressions

    tokens = tokenize(literal)
    if isinstance(value, str):
        assert tokens[0].value == value and tokens[1].kind.name == "EOF"


@pytest.mark.parametrize("bad", [float("nan"), "half \ud800 pair"])
def test_milvus_literal_refuses_what_has_no_literal(bad):
    with pytest.raises(ValueError):
        milvus_literal(bad)


def test_parameters_keep_every_value_out_of_the_expression():
    fields = {"lang": Field("lang", "f0", "text"), "year": Field("year", "f1", "number"),
              'we"ird': Field('we"ird', "f2", "bool")}  # fmt: skip
    evil = '" or id != "'
    tree = parse_filter(
        f"lang = '{evil}' and year in (1, 2.5) and not \"we\"\"ird\" = true and lang like 'A_%'", fields
    )
    params: dict = {}
    expression = to_milvus(tree, params)
    assert params == {"p0": evil, "p1": [1.0, 2.5], "p2": False}
    assert evil not in expression and "we" not in expression and "{p0}" in expression and "{p1}" in expression
    assert 'f0_fold like "a_%"' in expression  # LIKE takes no template: the escaped literal of the folded pattern
    assert to_milvus(parse_filter("year >= 2020", fields)) == "(f1 is not null and f1 >= 2020.0)"


# ---- the command line -------------------------------------------------------------------------------------------
def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_cli_build_add_search_delete_and_bad_inputs(tmp_path, tiny_models):
    docs, more = tmp_path / "docs.jsonl", tmp_path / "more.jsonl"
    docs.write_text("".join(json.dumps({"id": f"d{i}", "text": f"note {i} about cats", "lang": ["en", "de"][i % 2]})
                            + "\n" for i in range(12)))  # fmt: skip
    more.write_text(json.dumps({"id": "d0", "text": "replaced", "colour": "red"}) + "\n")
    uri, model = str(tmp_path / "cli.db"), tiny_models["bert-st"]
    where = ["--store", "milvus", "--uri", uri, "--collection", "notes"]
    result = run("index", "build", docs, *where, "--model", model, "--meta-fields", "lang")
    assert result.exit_code == 0, result.output
    result = run("search", "cats", *where, "-k", "3", "--filter", "lang = 'de'", "--json")
    hits = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 0 and len(hits) == 3 and all(h["metadata"]["lang"] == "de" for h in hits)
    assert json.loads(run("index", "info", *where).stdout)["documents"] == 12
    assert run("index", "delete", "d1", "d2", *where).exit_code == 0
    assert json.loads(run("index", "info", *where).stdout)["documents"] == 10
    bad = [
        (["index", "build", docs, *where, "--model", model], "already exists"),
        (["index", "build", docs, "--store", "milvus", "--uri", uri, "--collection", "no-dash"], "collection name"),
        (["index", "build", docs, "--store", "milvus"], "give --uri"),
        (["index", "build", docs, "--store", "nosql", "--uri", uri], "choose local"),
        (["index", "build", docs, *where, "--quantize", "int8"], "local-index options"),
        (["index", "add", more, *where], "already in the index"),
        (["index", "add", more, *where, "--upsert", "--meta-fields", "colour"], "cannot add fields"),
        (["index", "add", tmp_path, more, *where], "documents file only"),
        (["index", "delete", "d1", *where], "no document with id 'd1'"),
        (["index", "info", "--store", "milvus", "--uri", uri, "--collection", "missing"], "no collection 'missing'"),
        (["search", "cats", *where, "--hubness", "csls"], "needs a local index"),
        (["search", "cats", "--store", "milvus", "--uri", "http://127.0.0.1:9"], "cannot reach Milvus"),
        (["search", "cats", "--store", "milvus", "--uri", tmp_path / "no" / "x.db"], "does not exist"),
    ]
    for args, message in bad:
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], (args, result.stderr)


def test_serve_searches_a_milvus_index(pair):
    from fastapi.testclient import TestClient

    from emberta.serve import create_app

    milvus, local, vectors = pair

    class Encoder:  # a stand-in of the server's model: its warm-up encodes one text; these searches need none
        name, dim, fingerprint, prompts = "vectors", DIM, FP, {}

        def token_lengths(self, texts):
            return [len(t.split()) for t in texts]

        def encode(self, texts, **options):
            return np.ones((len(texts), DIM), dtype=np.float32)

    with TestClient(create_app(Encoder(), index=milvus)) as client:
        assert client.get("/v1/documents/d7").json()["metadata"] == local.get("d7").metadata
        answer = client.post("/v1/search", json={"query": "apple", "mode": "bm25", "filter": "ok = true", "k": 3})
        assert answer.status_code == 200 and all(row["metadata"]["ok"] for row in answer.json()["data"])
        assert client.post("/v1/search", json={"query": "apple", "filter": "nope = 1"}).status_code == 400
        assert client.get("/v1/index/overview").json()["documents"] == N
    assert isinstance(milvus.search(vectors[0], 1)[0].score, float)
    with pytest.raises(EmbertaError):
        milvus.store  # noqa: B018  (highlights need the local FTS5 store)
