"""`emberta serve`: the official openai client against a real server, the search API, micro-batching, and
each kind of bad request (auth, limits, validation, malformed JSON, bad filters, broken index path)."""

from __future__ import annotations

import asyncio
import base64
import threading

import numpy as np
import pytest
from fastapi.testclient import TestClient

import emberta
from emberta.serve import ServeSettings, check_bind, create_app, is_loopback
from emberta.serve.batcher import MicroBatcher, Overloaded

TEXTS = ["the cat sat on the mat", "dogs bark loudly at night", "a kitten sleeps", "stock markets fell today"]


@pytest.fixture(scope="module")
def encoder(tiny_models):
    return emberta.load_encoder(tiny_models["bert-st"])


@pytest.fixture(scope="module")
def index(encoder, tmp_path_factory):
    from emberta.index import Index

    path = tmp_path_factory.mktemp("serve") / "idx"
    idx = Index.create(path, model=str(encoder.folder.path), encoder=encoder)
    idx.add(TEXTS, [f"t{i}" for i in range(4)], [{"lang": "en", "n": i} for i in range(4)])
    idx.close()
    return Index.open(path, encoder=encoder)


@pytest.fixture(scope="module")
def client(encoder, index):
    app = create_app(encoder, index=index, settings=ServeSettings(max_inputs=8, max_input_chars=200))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def server(encoder, index, start_server):
    return start_server(create_app(encoder, index=index, settings=ServeSettings(api_key="secret-key")))


def cosines(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_the_openai_client_works_unchanged(server, encoder):
    from openai import OpenAI

    client = OpenAI(base_url=f"{server}/v1", api_key="secret-key")
    expected = encoder.encode(TEXTS, show_progress=False)
    for encoding in ("float", "base64"):
        result = client.embeddings.create(model=encoder.name, input=TEXTS, encoding_format=encoding)
        got = [item.embedding for item in sorted(result.data, key=lambda d: d.index)]
        if encoding == "base64":  # asked for explicitly, the client hands back the strings as they came
            got = [np.frombuffer(base64.b64decode(item), dtype="<f4") for item in got]
        assert cosines(got, expected).min() >= 0.9999
        assert result.usage.prompt_tokens > 0 and result.model == encoder.name
    single = client.embeddings.create(model=encoder.name, input=TEXTS[0])  # the client's default: base64
    assert cosines([single.data[0].embedding], expected[:1])[0] >= 0.9999
    short = client.embeddings.create(model=encoder.name, input=TEXTS, dimensions=8, encoding_format="float")
    truncated = expected[:, :8] / np.linalg.norm(expected[:, :8], axis=1, keepdims=True)
    got = np.array([item.embedding for item in short.data])
    assert got.shape == (4, 8) and cosines(got, truncated).min() >= 0.9999
    assert np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)
    assert [m.id for m in client.models.list().data] == [encoder.name]


def test_auth_required_and_denied(server):
    import httpx

    assert httpx.get(f"{server}/healthz").status_code == 200  # health checks stay open
    response = httpx.post(f"{server}/v1/embeddings", json={"input": "x"})
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"
    assert "Traceback" not in response.text
    wrong = httpx.post(f"{server}/v1/embeddings", json={"input": "x"}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["message"] == "incorrect API key"
    right = httpx.post(f"{server}/v1/embeddings", json={"input": "x"}, headers={"Authorization": "Bearer secret-key"})
    assert right.status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"input": []}, 422, "empty list"),
        ({"input": ["ok", 3]}, 422, "a string or a list of strings"),
        ({"input": [[1, 2, 3]]}, 422, "token arrays are not supported"),
        ({"input": ""}, 422, "empty string"),
        ({"model": "x"}, 422, "'input' is a required property"),
        ({"input": ["t"] * 9}, 413, "at most 8 per request"),
        ({"input": "x" * 201}, 413, "at most 200"),
        ({"input": "x", "temperature": 1}, 400, "Unrecognized request argument supplied: temperature"),
        ({"input": "x", "encoding_format": "int8"}, 422, "'encoding_format'"),
        ({"input": "x", "dimensions": 0}, 422, "'dimensions'"),
        ({"input": "x", "model": "gpt-4"}, 404, "does not exist here"),
    ],
)
def test_bad_embedding_requests(client, body, status, message):
    response = client.post("/v1/embeddings", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert message in error["message"] and error["type"] in ("invalid_request_error", "server_error")


def test_malformed_json_and_oversize_bodies(encoder):
    app = create_app(encoder, settings=ServeSettings(max_body_bytes=100))
    with TestClient(app) as client:
        response = client.post("/v1/embeddings", content=b'{"input": ', headers={"content-type": "application/json"})
        assert response.status_code == 400 and "could not parse the JSON body" in response.json()["error"]["message"]
        response = client.post("/v1/embeddings", json={"input": "y" * 500})
        assert response.status_code == 413 and "over the limit" in response.json()["error"]["message"]
        assert client.post("/v1/search", json={"query": "x"}).status_code == 404  # no index loaded


def test_search_documents_similarity_and_operations(client):
    hits = client.post("/v1/search", json={"query": "kitten", "k": 2}).json()["data"]
    assert len(hits) == 2 and set(hits[0]) == {"id", "score", "text", "metadata"}
    filtered = client.post("/v1/search", json={"query": "cat", "filter": "n >= 2", "mode": "hybrid"}).json()["data"]
    assert filtered and all(h["metadata"]["n"] >= 2 for h in filtered)
    bad = client.post("/v1/search", json={"query": "cat", "filter": "n >= "})
    assert bad.status_code == 400 and "filter, column" in bad.json()["error"]["message"]
    assert client.post("/v1/search", json={"query": "cat", "mode": "fuzzy"}).status_code == 400
    assert client.get("/v1/documents/t2").json() == {"id": "t2", "text": TEXTS[2], "metadata": {"lang": "en", "n": 2}}
    assert client.get("/v1/documents/nope").status_code == 404
    score = client.post("/v1/similarity", json={"a": TEXTS[0], "b": TEXTS[0]}).json()["score"]
    assert score == pytest.approx(1.0, abs=1e-5)
    assert client.get("/readyz").json()["status"] == "ready"
    metrics = client.get("/metrics").text
    assert 'emberta_requests_total{path="/v1/search",status="200"}' in metrics
    assert "emberta_request_seconds_bucket" in metrics and "emberta_queue_depth" in metrics
    assert client.get("/docs").status_code == 200


def test_micro_batching_combines_waiting_requests_and_refuses_overload(encoder):
    """While the model is busy with one request, the next eleven queue up and go to the model as one batch."""
    calls: list[int] = []
    busy, release = threading.Event(), threading.Event()

    class Gated:
        def token_lengths(self, texts):
            return encoder.token_lengths(texts)

        def encode(self, texts, **kwargs):
            calls.append(len(texts))
            busy.set()
            release.wait(timeout=60)
            return encoder.encode(texts, show_progress=False)

    async def until(condition):
        for _ in range(6000):
            if condition():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("timed out")

    async def scenario():
        batcher = MicroBatcher(Gated(), max_batch_tokens=10_000, max_queue_texts=20)
        try:
            first = asyncio.ensure_future(batcher.embed(["text 0"]))
            await until(busy.is_set)  # the worker holds the first request alone
            rest = [asyncio.ensure_future(batcher.embed([f"text {i}"])) for i in range(1, 12)]
            await until(lambda: batcher.queue_depth == 11)
            with pytest.raises(Overloaded):  # 11 waiting + 15 > 20
                await batcher.embed(["x"] * 15)
            assert batcher.queue_depth == 11  # a refused request leaves nothing behind
            release.set()
            results = await asyncio.gather(first, *rest)
            return results, batcher.drain_batch_sizes(), batcher.drain_batch_sizes()
        finally:
            release.set()
            batcher.close()

    results, sizes, drained_again = asyncio.run(scenario())
    assert calls == [1, 11] and sizes == [1, 11] and drained_again == []
    assert len(results) == 12 and all(r.shape == (1, encoder.dim) and n > 0 for r, n in results)
    expected = encoder.encode([f"text {i}" for i in range(12)], show_progress=False)
    assert cosines(np.concatenate([r for r, _ in results]), expected).min() >= 0.9999


def test_search_errors_name_the_parameter_at_fault(client):
    for flt in ("n >= ", "colour = 'red'"):
        error = client.post("/v1/search", json={"query": "cat", "filter": flt}).json()["error"]
        assert error["param"] == "filter" and "column" in error["message"]
    for mode in ("fuzzy", "filter", 3):  # a mode named 'filter' once came back as param "filter"
        response = client.post("/v1/search", json={"query": "cat", "mode": mode})
        assert response.status_code == 400 and response.json()["error"]["param"] == "mode"
        assert "dense, bm25, hybrid" in response.json()["error"]["message"]


@pytest.mark.parametrize("options", [{}, {"filter": "n >= 1"}, {"mode": "bm25"}, {"mode": "hybrid", "k": 3}])
def test_batch_search_answers_each_query_as_search_does(client, options):
    queries = ["cat", "barking dogs", "markets"]
    answer = client.post("/v1/search/batch", json={"queries": queries, **options})
    assert answer.status_code == 200, answer.text
    results = answer.json()["data"]
    assert [r["index"] for r in results] == [0, 1, 2] and {r["object"] for r in results} == {"search_result"}
    for query, result in zip(queries, results, strict=True):
        one = client.post("/v1/search", json={"query": query, **options}).json()["data"]
        assert [h["id"] for h in result["data"]] == [h["id"] for h in one]
        np.testing.assert_allclose([h["score"] for h in result["data"]], [h["score"] for h in one], rtol=1e-5)


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"queries": "cat"}, 422, "queries"),
        ({"queries": []}, 422, "queries"),
        ({"queries": ["cat", "  "]}, 422, "queries"),
        ({"queries": ["cat", 3]}, 422, "queries"),
        ({"queries": ["cat"] * 9}, 413, "queries"),
        ({"queries": ["x" * 201]}, 413, "queries"),
        ({"queries": ["cat"], "filter": "n >= "}, 400, "filter"),
        ({"queries": ["cat"], "mode": "fuzzy"}, 400, "mode"),
        ({"queries": ["cat"], "query": "cat"}, 400, "query"),
        ({"query": "cat"}, 400, "query"),
    ],
)
def test_bad_batch_searches_are_refused_by_name(client, body, status, param):
    response = client.post("/v1/search/batch", json=body)
    assert response.status_code == status and response.json()["error"]["param"] == param


def test_other_search_errors_have_no_param(encoder):
    from emberta.errors import OptionError
    from emberta.index import FilterError

    class Refusing:
        path = "stub"

        def __init__(self, error):
            self.error = error

        def search(self, *args, **kwargs):
            raise self.error

    cases = [(OptionError("this index needs `emberta index repair`"), None), (FilterError("x", 1, "bad"), "filter")]
    for error, param in cases:
        with TestClient(create_app(encoder, index=Refusing(error))) as client:
            response = client.post("/v1/search", json={"query": "cat"})
        assert response.status_code == 400 and response.json()["error"]["param"] == param
        assert response.json()["error"]["message"] == str(error)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1"])
def test_bind_policy_allows_loopback_without_a_key(host):
    assert is_loopback(host)
    check_bind(host, api_key=None)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com"])
def test_bind_policy_refuses_other_hosts_without_a_key_or_insecure(host):
    from emberta.errors import OptionError

    assert not is_loopback(host)
    with pytest.raises(OptionError, match="give an API key"):
        check_bind(host, api_key=None)
    with pytest.raises(OptionError):
        check_bind(host, api_key="")
    check_bind(host, api_key="secret-key")
    check_bind(host, api_key=None, insecure=True)


def test_cli_refuses_unsafe_binds_and_broken_indexes(tmp_path):
    from typer.testing import CliRunner

    from emberta.cli.main import app

    runner = CliRunner()
    result = runner.invoke(app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "give an API key" in result.output
    result = runner.invoke(app, ["serve", "--index", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "no index here" in result.output


def test_concurrent_requests_all_succeed(server, encoder):
    """Many clients at once (the tokenizer must not be shared between threads: this once gave 500s)."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    def one(i: int):
        response = httpx.post(f"{server}/v1/embeddings", json={"input": [f"sentence {i}", TEXTS[i % 4]]},
                              headers={"Authorization": "Bearer secret-key"}, timeout=60)  # fmt: skip
        return response.status_code, response.json()

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(one, range(48)))
    assert [status for status, _ in answers] == [200] * 48
    expected = encoder.encode([f"sentence {7}", TEXTS[3]], show_progress=False)
    got = [item["embedding"] for item in answers[7][1]["data"]]
    assert cosines(got, expected).min() >= 0.9999
