"""The HTTP API against its own OpenAPI document: schemathesis generates requests for every operation the app
publishes (bodies that fit the document and bodies that do not, any path parameter), mostly with the right API
key. No answer may be a 5xx; each status, content type, header and body must be what the document declares;
every 4xx must carry OpenAI's error shape; data the document calls invalid must be refused; an operation that
needs the key must refuse a request without it.

A small budget in `make test`; a long run with EMBERTA_FUZZ_EXAMPLES=N (examples per operation and mode) or
HYPOTHESIS_PROFILE=fuzz, and EMBERTA_FUZZ_SUMMARY=FILE.json merges {"http": {"requests", "5xx"}} into FILE."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import emberta
from emberta import classify
from emberta.classify.tagging import TaggedSentences, train_tagger
from emberta.serve import ServeSettings, create_app

KEY = "fuzz-key-\u00e9"  # a key outside ASCII: headers travel as latin-1
TEXTS = ["the cat sat on the mat", "dogs bark loudly at night", "a kitten sleeps", "stock markets fell today"]
IDS = ["t0", "dir/t1", "../t2", "t 3"]  # ids with a slash, dots and a space: each must be reachable
OPERATIONS = [
    "POST /v1/embeddings",
    "GET /v1/models",
    "POST /v1/similarity",
    "POST /v1/search",
    "POST /v1/search/batch",
    "GET /v1/documents/{doc_id}",
    "GET /v1/index/overview",
    "GET /v1/reports",
    "GET /v1/reports/{name}",
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",
    "POST /v1/classify",
    "POST /v1/tag",
]
WITH_INPUT = {
    "POST /v1/classify",
    "POST /v1/tag",
    "POST /v1/embeddings",
    "POST /v1/similarity",
    "POST /v1/search",
    "POST /v1/search/batch",
    "GET /v1/documents/{doc_id}",
    "GET /v1/reports/{name}",
}
FUZZING = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"
EXAMPLES = int(os.environ.get("EMBERTA_FUZZ_EXAMPLES") or (400 if FUZZING else 6))


class Counting:
    """An ASGI app around `app` counting the HTTP answers it gives, by status."""

    def __init__(self, app):
        self.app, self.statuses = app, Counter()

    async def __call__(self, scope, receive, send):
        async def counted(message):
            if message["type"] == "http.response.start":
                self.statuses[message["status"]] += 1
            await send(message)

        await self.app(scope, receive, send if scope["type"] != "http" else counted)


@pytest.fixture(scope="module")
def api(tiny_models, tmp_path_factory):
    """(the schemathesis schema of a served tiny model with an index and an API key, the answer counter)."""
    import schemathesis
    from schemathesis.python import asgi

    from emberta.index import Index

    encoder = emberta.load_encoder(tiny_models["bert-st"])
    path = tmp_path_factory.mktemp("schema") / "idx"
    index = Index.create(path, model=str(tiny_models["bert-st"]), encoder=encoder)
    index.add(TEXTS, IDS, [{"lang": "en", "n": i, "ok": i % 2 == 0} for i in range(4)])
    index.close()
    reports = tmp_path_factory.mktemp("schema-reports")
    (reports / "report.html").write_text("<title>a report</title><p>numbers</p>", encoding="utf-8")
    settings_ = ServeSettings(api_key=KEY, max_inputs=8, max_input_chars=200)
    classifier = classify.train(classify.Examples(TEXTS, ["pets", "pets", "pets", "money"], "texts"), model=encoder,
                                strength=1.0, cache=False)  # fmt: skip
    words = [text.split() for text in TEXTS]
    tags = [["B-pet" if w in ("cat", "dogs", "kitten") else "O" for w in row] for row in words]
    tagged = TaggedSentences(words, tags, "texts")
    tagger = train_tagger(tagged, model=tiny_models["bert"], epochs=1, batch_size=4)
    app = Counting(create_app(encoder, index=Index.open(path, encoder=encoder), settings=settings_, reports=reports,
                              classifier=classifier, tagger=tagger))  # fmt: skip
    # invalid data must be refused with a 4xx; 413 counts (too many texts is checked before their contents)
    refusals = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
    config = schemathesis.Config.from_dict({"checks": {"negative_data_rejection": {"expected-statuses": refusals}}})
    yield schemathesis.openapi.from_asgi("/openapi.json", app, config=config), app.statuses
    asgi.shutdown_lifespans()  # stops the micro-batcher schemathesis started
    record_summary(app.statuses)


def record_summary(statuses: Counter) -> None:
    """Merge {"http": {"requests", "5xx"}} into the JSON file EMBERTA_FUZZ_SUMMARY names, when it does."""
    target = os.environ.get("EMBERTA_FUZZ_SUMMARY")
    if not target:
        return
    path = Path(target)
    summary = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    errors = sum(n for status, n in statuses.items() if status >= 500)
    summary["http"] = {"requests": sum(statuses.values()), "5xx": errors}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


def test_the_document_lists_every_route_with_its_errors(api):
    schema, _ = api
    document = schema.raw_schema
    labels = sorted(f"{method.upper()} {path}" for path, ops in document["paths"].items() for method in ops)
    assert labels == sorted(OPERATIONS)  # a new route must be added here, and so fuzzed
    for path, operations in document["paths"].items():
        for operation in operations.values():
            declared = operation["responses"]
            assert {"200", "413", "500"} <= set(declared), path
            error = declared["500"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/ErrorBody"}
            open_path = path in ("/healthz", "/readyz")
            assert ("security" in operation) is not open_path and ("401" in declared) is not open_path
    for path in ("/v1/embeddings", "/v1/similarity", "/v1/search", "/v1/search/batch", "/v1/classify", "/v1/tag"):
        assert document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]


def checks():
    from schemathesis.checks import (
        content_type_conformance,
        ignored_auth,
        negative_data_rejection,
        not_a_server_error,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    return [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
            response_schema_conformance, negative_data_rejection, ignored_auth]  # fmt: skip


CREDENTIALS = st.sampled_from(["right"] * 6 + ["none", "wrong", "empty", "scheme"])


def authorization(kind: str) -> dict[str, str]:
    header = {"right": f"Bearer {KEY}", "wrong": "Bearer not-the-key", "empty": "Bearer ", "scheme": f"Basic {KEY}"}
    return {"Authorization": header[kind].encode().decode("latin-1")} if kind in header else {}


@pytest.mark.parametrize("mode", ["positive", "negative"])
@pytest.mark.parametrize("label", OPERATIONS)
def test_generated_requests_get_declared_answers(api, label, mode):
    from schemathesis import GenerationMode

    if mode == "negative" and label not in WITH_INPUT:
        pytest.skip("nothing of this operation can be made invalid")
    schema, statuses = api
    method, path = label.split(" ")
    operation = schema[path][method]
    before = sum(statuses.values())

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=not FUZZING,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=operation.as_strategy(GenerationMode(mode)), credentials=CREDENTIALS)
    def run(case, credentials):
        headers = authorization(credentials)
        response = case.call(headers=headers)
        case.validate_response(response, checks=checks(), headers=headers)
        if 400 <= response.status_code < 500:
            error = response.json()["error"]
            assert isinstance(error["message"], str) and error["message"] and isinstance(error["type"], str)
        if path not in ("/healthz", "/readyz"):  # a negative case may have dropped or mangled the header we gave
            sent = response.request.headers.get("Authorization")
            assert (response.status_code == 401) is (sent != authorization("right")["Authorization"]), response.text

    run()
    assert sum(statuses.values()) > before
