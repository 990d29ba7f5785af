"""`emberta index ...` and `emberta search`: the happy path and every bad input (exit 2, one message, nothing
half-written)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from emberta.cli.main import app

runner = CliRunner()


def run(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input)


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("docs")
    path = folder / "docs.jsonl"
    topics = ["cats and kittens", "stock markets", "football games", "cooking pasta"]
    with path.open("w") as handle:
        for i in range(60):
            record = {"id": f"d{i}", "text": f"note {i} about {topics[i % 4]}", "lang": ["en", "de", "fr"][i % 3],
                      "year": 1990 + i, "tags": ["x"]}  # fmt: skip
            handle.write(json.dumps(record) + "\n")
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory, docs, tiny_models):
    out = tmp_path_factory.mktemp("built") / "idx"
    result = run("index", "build", docs, "--out", out, "--model", tiny_models["bert-st"], "--meta-fields", "lang,year")
    assert result.exit_code == 0, result.output
    return out


def test_build_search_info_check(built):
    result = run("search", built, "kittens", "-k", "3", "--json")
    assert result.exit_code == 0, result.output
    hits = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(hits) == 3 and [h["rank"] for h in hits] == [1, 2, 3]
    result = run("search", built, "about", "--filter", "lang = 'de' and year >= 2000", "--mode", "hybrid", "--json")
    hits = [json.loads(line) for line in result.stdout.splitlines()]
    assert hits and all(h["metadata"]["lang"] == "de" and h["metadata"]["year"] >= 2000 for h in hits)
    result = run("search", built, "kittens", "--mode", "bm25", "-k", "2")
    assert "kittens" in result.stdout
    info = json.loads(run("index", "info", built).stdout)
    assert info["documents"] == 60 and info["fields"] == {"lang": "text", "year": "number"}
    assert json.loads(run("index", "info", built, "--json").stdout) == info
    assert run("index", "check", built).stdout.strip().endswith("ok")


def test_build_from_precomputed_vectors(tmp_path, built, docs, tiny_models):
    import emberta

    model = tiny_models["bert-st"]
    assert run("encode", docs, "--out", tmp_path / "v.npy", "--model", model, "--id-field", "id", "-q").exit_code == 0
    vectors, ids = emberta.read_vectors(tmp_path / "v.npy")
    sidecar = {k: v for k, v in json.loads((tmp_path / "v.npy.json").read_text()).items() if k not in ("count", "dim")}
    emberta.write_vectors(tmp_path / "r.npy", vectors[::-1], ids=ids[::-1], metadata=sidecar)  # matched by id
    out = tmp_path / "idx"
    result = run("index", "build", docs, "--out", out, "--model", model, "--meta-fields", "lang,year", "--vectors",
                 tmp_path / "r.npy")  # fmt: skip
    assert result.exit_code == 0, result.output

    def scores(index):  # every document's score (the tiny model's near-ties make the order unstable)
        lines = run("search", index, "kittens", "-k", "60", "--json").stdout.splitlines()
        return {hit["id"]: hit["score"] for hit in map(json.loads, lines)}

    got, expected = scores(out), scores(built)
    assert got.keys() == expected.keys() and len(got) == 60
    assert all(abs(got[key] - expected[key]) < 1e-5 for key in got)
    emberta.write_vectors(tmp_path / "few.npy", vectors[:10], ids=ids[:10], metadata=sidecar)
    emberta.write_vectors(tmp_path / "other.npy", vectors, ids=ids, metadata=dict(sidecar, fingerprint="f" * 64))
    for name, needle in (("few.npy", "docs.jsonl:11: document 'd10' has no vector"), ("other.npy", "another encoder")):
        result = run("index", "build", docs, "--out", tmp_path / "bad", "--model", model, "--vectors", tmp_path / name)
        assert result.exit_code == 2 and needle in result.output, result.output
        assert not (tmp_path / "bad").exists()


def test_add_upsert_delete(tmp_path, built, docs):
    import shutil

    idx = tmp_path / "idx"
    shutil.copytree(built, idx)
    result = run("index", "add", idx, docs, "--meta-fields", "lang,year")
    assert result.exit_code == 2
    assert f"{docs}:1: id 'd0' is already in the index" in result.output and "--upsert" in result.output
    result = run("index", "add", idx, docs, "--meta-fields", "lang,year", "--upsert")
    assert result.exit_code == 0 and "replaced 60" in result.output
    assert run("index", "delete", idx, "d1", "d2").exit_code == 0
    assert json.loads(run("index", "info", idx).stdout)["documents"] == 58
    result = run("index", "delete", idx, "nope")
    assert result.exit_code == 2 and "no document with id 'nope'" in result.output
    assert json.loads(run("index", "info", idx).stdout)["deleted_slots"] == 62
    result = run("index", "compact", idx)
    assert result.exit_code == 0 and result.stdout.strip() == f"{idx}: compacted: 58 documents, 120 slots before"
    assert json.loads(run("index", "info", idx).stdout)["deleted_slots"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--filter", "lang = "], "filter, column 7: expected a value"),
        (["--filter", "colour = 'red'"], "unknown field 'colour'; filterable fields: lang, year"),
        (["--filter", "lang = 'x' OR 1=1 --"], "filter, column"),
        (["--mode", "sparse"], "unknown search mode"),
        (["--weights", "1"], "give two numbers"),
    ],
)
def test_bad_search_input(built, args, message):
    result = run("search", built, "kittens", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_bad_build_input(tmp_path, docs, tiny_models, built):
    model = tiny_models["bert-st"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "fine", "year": 1}\n{"id": "b", "text": "x", "year": "1999"}\n')
    out = tmp_path / "out"
    result = run("index", "build", bad, "--out", out, "--model", model, "--meta-fields", "year")
    assert result.exit_code == 2 and "metadata field 'year' is text here but number" in result.output
    assert not out.exists() and not any(p.name.startswith(".out") for p in tmp_path.iterdir())
    dup = tmp_path / "dup.jsonl"
    dup.write_text('{"id": "a", "text": "one"}\n{"id": "a", "text": "two"}\n')
    result = run("index", "build", dup, "--out", out, "--model", model)
    assert result.exit_code == 2 and f"{dup}:2: id 'a' appears twice" in result.output and not out.exists()
    result = run("index", "build", dup, "--out", out, "--model", model, "--upsert")
    assert result.exit_code == 2 and "twice in one batch" in result.output
    missing_id = tmp_path / "noid.jsonl"
    missing_id.write_text('{"text": "one"}\n')
    result = run("index", "build", missing_id, "--out", out, "--model", model)
    assert result.exit_code == 2 and "no field 'id'" in result.output and "--id-field" in result.output
    result = run("index", "build", docs, "--out", built, "--model", model)
    assert result.exit_code == 2 and "already exists" in result.output
    result = run("index", "build", docs, "--out", out, "--model", model, "--ann", "IVFxx,Nope")
    assert result.exit_code == 2 and "not a FAISS factory string" in result.output
    result = run("index", "build", docs, "--out", out, "--model", model, "--meta-fields", "colour")
    assert (
        result.exit_code == 0
        and "warning: " in result.output
        and "no document has metadata field 'colour'" in result.output
    )
    csv = tmp_path / "docs.csv"
    csv.write_text("id,text,lang\na,hello,en\n")
    result = run("index", "build", csv, "--out", tmp_path / "csv", "--model", model, "--meta-fields", "colour")
    assert result.exit_code == 2 and "no column 'colour'" in result.output


def test_locked_missing_and_damaged_indexes(tmp_path, built, docs):
    import shutil

    from emberta.index import Index

    idx = tmp_path / "idx"
    shutil.copytree(built, idx)
    with Index.open(idx, writable=True):
        result = run("index", "add", idx, docs, "--upsert")
        assert result.exit_code == 2 and "index is locked" in result.output
        assert run("search", idx, "kittens").exit_code == 0  # readers go on
    result = run("search", tmp_path / "nowhere", "kittens")
    assert result.exit_code == 2 and "no index here" in result.output
    result = run("index", "check", docs)
    assert result.exit_code == 2 and result.stderr == f"error: {docs}: no index here (not a folder)\n"
    (idx / "ann.faiss").write_bytes(b"garbage")
    result = run("search", idx, "kittens")
    assert result.exit_code == 2 and "ANN file is unreadable" in result.output and "index repair" in result.output
    result = run("index", "check", idx)
    assert result.exit_code == 1 and "unreadable" in result.output
    result = run("index", "repair", idx)
    assert result.exit_code == 0 and "rebuilt ann.faiss" in result.output
    assert run("index", "check", idx).exit_code == 0


def test_build_and_add_from_standard_input(tmp_path, docs, tiny_models):
    lines = docs.read_text().splitlines(keepends=True)
    out = tmp_path / "idx"
    result = run("index", "build", "-", "--out", out, "--model", tiny_models["bert-st"], "--format", "jsonl",
                 "--meta-fields", "lang", input="".join(lines[:40]))  # fmt: skip
    assert result.exit_code == 0, result.output
    result = run("index", "add", out, "-", "--format", "jsonl", "--meta-fields", "lang", input="".join(lines[40:]))
    assert result.exit_code == 0, result.output
    assert json.loads(run("index", "info", out).stdout)["documents"] == 60
    result = run("index", "add", out, "-", input="".join(lines[:1]))
    assert result.exit_code == 2 and "--format" in result.stderr
