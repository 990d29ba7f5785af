"""What the web page of `emberta serve` looks at, over plain HTTP: the index overview (against counts made here
from the documents' metadata), highlighted BM25 matches, and the reports folder (listed, served as HTML, never
a file outside it however the name is spelled; a missing folder stops the server at startup)."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

import emberta
from emberta.serve import ServeSettings, create_app

UNSAFE = '<img src=x onerror="window.pwned=1"><script>window.pwned=1</script>'
TEXTS = ["the cat sat on the mat", "Dogs are barking loudly at night", "a kitten sleeps", "stock markets fell today",
         "kittens sleep all day"]  # fmt: skip
META = [
    {"lang": "en", "year": 2019, "reviewed": True, "score": 0.5},
    {"lang": "de", "year": 2021, "reviewed": False, "tags": ["a"]},
    {"lang": "en", "year": 2020, "reviewed": True, UNSAFE: UNSAFE},
    {"lang": UNSAFE, "year": 2023.5},
    {"lang": "en", "score": -1},
]


@pytest.fixture(scope="module")
def encoder(tiny_models):
    return emberta.load_encoder(tiny_models["bert-st"])


@pytest.fixture(scope="module")
def index(encoder, tmp_path_factory):
    from emberta.index import Index

    path = tmp_path_factory.mktemp("browse") / "idx"
    idx = Index.create(path, model=str(encoder.folder.path), encoder=encoder)
    idx.add(TEXTS, [f"t{i}" for i in range(len(TEXTS))], META)
    idx.close()
    return Index.open(path, encoder=encoder)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """A reports folder: two reports, and files and links that are not reports of this folder."""
    root = tmp_path_factory.mktemp("browse-reports")
    folder = root / "reports"
    folder.mkdir()
    (folder / "compare.html").write_text("<html><head><title> Model &amp; cost\n comparison </title></head>"
                                         "<body><table id='t'></table></body></html>", encoding="utf-8")  # fmt: skip
    (folder / "notitle.html").write_text("<p>plain</p>", encoding="utf-8")
    (folder / "notes.txt").write_text("not a report", encoding="utf-8")
    (folder / ".hidden.html").write_text("hidden", encoding="utf-8")
    (folder / "sub.html").mkdir()
    (root / "secret.html").write_text("SECRET", encoding="utf-8")
    (folder / "escape.html").symlink_to(root / "secret.html")  # a link out of the folder is not served
    (folder / "dangling.html").symlink_to(root / "missing.html")
    return folder


@pytest.fixture(scope="module")
def client(encoder, index, reports):
    with TestClient(create_app(encoder, index=index, reports=reports)) as test_client:
        yield test_client


def test_the_overview_counts_documents_model_and_fields(client, encoder):
    overview = client.get("/v1/index/overview")
    assert overview.status_code == 200 and overview.headers["content-type"] == "application/json"
    body = overview.json()
    assert body["object"] == "index_overview" and body["documents"] == len(TEXTS)
    assert body["model"] == {"name": encoder.name, "spec": str(encoder.folder.path), "fingerprint": encoder.fingerprint,
                             "dim": encoder.dim}  # fmt: skip
    fields = {field["name"]: field for field in body["fields"]}
    assert set(fields) == {"lang", "year", "reviewed", "score", UNSAFE}  # "tags" (a list) cannot be filtered on
    for name, field in fields.items():
        values = [meta[name] for meta in META if name in meta]
        counts = Counter(values)
        assert field["documents"] == len(values) and field["distinct"] == len(counts)
        assert sorted((v["value"], v["count"]) for v in field["values"]) == sorted(counts.items()), name
        assert [v["count"] for v in field["values"]] == sorted(counts.values(), reverse=True)
        if field["type"] == "number":
            assert (field["min"], field["max"]) == (min(values), max(values))
    assert [fields[n]["type"] for n in ("lang", "year", "reviewed", "score")] == ["text", "number", "bool", "number"]
    assert fields["lang"]["values"][0] == {"value": "en", "count": 3}
    assert fields[UNSAFE]["values"] == [{"value": UNSAFE, "count": 1}]  # JSON carries it as it is; the page escapes


def test_the_overview_needs_an_index(encoder):
    with TestClient(create_app(encoder)) as client:
        response = client.get("/v1/index/overview")
    assert response.status_code == 404 and response.json()["error"]["code"] == "no_index"


def test_highlights_are_the_words_bm25_matched(client):
    plain = client.post("/v1/search", json={"query": "kitten sleeping", "mode": "bm25"}).json()["data"]
    assert plain and all("highlights" not in hit for hit in plain)
    for mode in ("bm25", "hybrid", "dense"):
        hits = client.post("/v1/search", json={"query": "the kitten sleeping", "mode": mode, "highlight": True})
        assert hits.status_code == 200, hits.text
        assert {"t2", "t4"} <= {hit["id"] for hit in hits.json()["data"]}, mode
        for hit in hits.json()["data"]:
            marked = [hit["text"][start:end] for start, end in hit["highlights"]]
            expected = {"t2": ["kitten", "sleeps"], "t4": ["kittens", "sleep"]}.get(hit["id"], [])
            assert marked == expected, (mode, hit)  # stems match; "the" is a stop word, never marked
    refused = client.post("/v1/search", json={"query": "cat", "highlight": "yes"})
    assert refused.status_code == 422 and refused.json()["error"]["param"] == "highlight"
    batch = client.post("/v1/search/batch", json={"queries": ["cat"], "highlight": True})
    assert batch.status_code == 400 and batch.json()["error"]["param"] == "highlight"


def test_reports_are_listed_and_served_as_html(client, reports):
    listed = client.get("/v1/reports").json()
    assert listed["object"] == "list"
    rows = {row["name"]: row for row in listed["data"]}
    assert set(rows) == {"compare.html", "notitle.html"}
    assert rows["compare.html"]["title"] == "Model & cost comparison"  # unescaped, whitespace collapsed
    assert rows["notitle.html"]["title"] == "notitle.html"
    assert rows["compare.html"]["bytes"] == (reports / "compare.html").stat().st_size
    answer = client.get("/v1/reports/compare.html")
    assert answer.status_code == 200 and answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.content == (reports / "compare.html").read_bytes()
    policy = answer.headers["content-security-policy"]
    assert policy.startswith("sandbox allow-scripts;") and "default-src 'none'" in policy
    assert answer.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "url",
    [
        "/v1/reports/..%2Fsecret.html",
        "/v1/reports/%2E%2E%2Fsecret.html",
        "/v1/reports/..%252Fsecret.html",
        "/v1/reports/%2Fetc%2Fpasswd",
        "/v1/reports//etc/passwd",
        "/v1/reports/..%5Csecret.html",
        "/v1/reports/escape.html",
        "/v1/reports/dangling.html",
        "/v1/reports/notes.txt",
        "/v1/reports/.hidden.html",
        "/v1/reports/sub.html",
        "/v1/reports/compare.html%00",
        "/v1/reports/..",
        "/v1/reports/%ff%fe.html",
    ],
)
def test_names_outside_the_listing_are_refused(client, url):
    response = client.get(url)
    assert response.status_code == 404 and response.headers["content-type"] == "application/json"
    assert "SECRET" not in response.text and "root:" not in response.text and "Traceback" not in response.text


def test_dot_segments_sent_raw_reach_no_file(client):
    """httpx resolves "/../" in a URL before sending it; a raw request reaches the app unresolved, as uvicorn
    hands it over (percent-decoded `path`, the bytes as sent in `raw_path`)."""
    for raw in (b"/v1/reports/../secret.html", b"/v1/reports/../../reports/../secret.html", b"/v1/reports/./..%2f"):
        status, body = asyncio.run(raw_get(client.app, raw))
        assert status == 404 and b"SECRET" not in body and b'"error"' in body, raw


async def raw_get(app, raw: bytes) -> tuple[int, bytes]:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": unquote(raw.decode("ascii")), "raw_path": raw, "root_path": "", "query_string": b"",
             "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 1),
             "server": ("testserver", 80)}  # fmt: skip
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_without_a_reports_folder_the_routes_say_how_to_get_one(encoder, index):
    with TestClient(create_app(encoder, index=index, settings=ServeSettings())) as client:
        for url in ("/v1/reports", "/v1/reports/compare.html"):
            error = client.get(url).json()["error"]
            assert error["code"] == "no_reports" and "--reports DIR" in error["message"]


def test_a_missing_reports_folder_stops_the_server_at_startup(tmp_path):
    from typer.testing import CliRunner

    from emberta.cli.main import app

    (tmp_path / "file.html").write_text("x", encoding="utf-8")
    for target, says in ((tmp_path / "missing", "does not exist"), (tmp_path / "file.html", "is not a folder")):
        result = CliRunner().invoke(app, ["serve", "--model", "no-such-model", "--reports", str(target)])
        assert result.exit_code == 2 and says in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1 and str(target) in result.output


def test_the_page_is_static_and_puts_no_data_in_as_html(client):
    """The page holds no data: the JS fills it in, as text; and its policy allows no script or request from
    elsewhere (an injected <script src> or <img> beacon would not load)."""
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in page.text, sink
    policy = dict(part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'none'" and policy["script-src"] == "'unsafe-inline'"
    assert policy["connect-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
    assert "://" not in page.text  # nothing named from another site


def test_the_filter_builder_quotes_every_keyword_the_parser_reserves(client):
    from emberta.index.filters import _KEYWORDS

    page_keywords = re.search(r"const KEYWORDS = new Set\((\[[^\]]*\])\)", client.get("/").text).group(1)
    assert set(json.loads(page_keywords)) == _KEYWORDS  # a keyword the page did not know would go unquoted
