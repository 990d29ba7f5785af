"""Hostile requests to `emberta serve`: bodies over the limit (declared and chunked), JSON nested 100,000 deep,
wrong content types, invalid UTF-8 and lone surrogates, NaN, slow clients holding connections, bad bearer
tokens, and document ids that try to leave their folder. Each gets its documented 4xx in OpenAI's error shape,
never a 5xx or a traceback, and the server keeps serving. In process where that is enough; through uvicorn on
a loopback port where the case needs real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

import emberta
from emberta.serve import ServeSettings, create_app

KEY = "s3cret-\u00e9"  # outside ASCII on purpose: headers travel as latin-1
AUTH = {"Authorization": f"Bearer {KEY}".encode()}  # its UTF-8 bytes, as curl sends them
LIMIT = 1 << 20
TEXTS = ["the cat sat on the mat", "dogs bark loudly at night", "a kitten sleeps", "stock markets fell today"]
IDS = ["t0", "dir/t1", "../t2", "/abs/t3"]


@pytest.fixture(scope="module")
def encoder(tiny_models):
    return emberta.load_encoder(tiny_models["bert-st"])


@pytest.fixture(scope="module")
def index(encoder, tmp_path_factory):
    from emberta.index import Index

    path = tmp_path_factory.mktemp("hostile") / "idx"
    idx = Index.create(path, model=str(encoder.folder.path), encoder=encoder)
    idx.add(TEXTS, IDS, [{"lang": "en", "n": i} for i in range(4)])
    idx.close()
    return Index.open(path, encoder=encoder)


def make_app(encoder, index, **options):
    settings = ServeSettings(api_key=KEY, max_body_bytes=LIMIT, max_inputs=8, max_input_chars=200, **options)
    return create_app(encoder, index=index, settings=settings)


@pytest.fixture(scope="module")
def client(encoder, index):
    with TestClient(make_app(encoder, index), raise_server_exceptions=False, headers=AUTH) as test_client:
        yield test_client
        assert_serving(test_client)


@pytest.fixture(scope="module")
def server(encoder, index, start_server):
    base = start_server(make_app(encoder, index))
    yield base
    assert_serving(httpx.Client(base_url=base, headers=AUTH, timeout=60))


def assert_error(response, status: int, *, code=None, param=None, says: str = "") -> dict:
    """`response` is a `status` in OpenAI's error shape, carrying no traceback."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"] and error["type"]
    assert (error["code"], error["param"]) == (code, param) or (code is None and param is None)
    assert says in error["message"] and "Traceback" not in response.text and 'File "' not in response.text
    return error


def assert_serving(client) -> None:
    assert client.get("/healthz").status_code == 200
    answer = client.post("/v1/embeddings", json={"input": "still here"})
    assert answer.status_code == 200 and len(answer.json()["data"]) == 1


# --- bodies ------------------------------------------------------------------------------------------------


def test_a_declared_length_over_the_limit_is_refused_before_the_body(client):
    error = assert_error(client.post("/v1/embeddings", content=b"x" * (LIMIT + 1)), 413, code="body_too_large")
    assert str(LIMIT) in error["message"]
    # the guard goes by the header alone, whatever follows it
    response = client.post("/v1/search", content=b"{}", headers={"Content-Length": str(10**12)})
    assert_error(response, 413, code="body_too_large")


def test_a_chunked_body_is_given_up_on_at_the_limit(encoder, index):
    """Without Content-Length the server reads the body chunk by chunk and stops past the limit (it once read
    it all, however long, before checking)."""
    app = make_app(encoder, index)
    chunk, chunks = b"[" + b" " * 1023, 4 * LIMIT // 1024
    sent, answer = 0, {}

    async def receive():
        nonlocal sent
        sent += 1
        return {"type": "http.request", "body": chunk, "more_body": sent < chunks}

    async def send(message):
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] = answer.get("body", b"") + message.get("body", b"")

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/v1/embeddings", "raw_path": b"/v1/embeddings", "query_string": b"", "root_path": "",
             "headers": [(b"authorization", AUTH["Authorization"]),
                         (b"transfer-encoding", b"chunked")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}  # fmt: skip
    asyncio.run(app(scope, receive, send))
    assert answer["status"] == 413 and b"over the limit" in answer["body"]
    assert sent <= LIMIT // 1024 + 2  # given up at the limit, not at the end of the body


def test_chunked_and_declared_bodies_over_the_limit_on_a_real_socket(server):
    chunk = b"2000\r\n" + b" " * 0x2000 + b"\r\n"
    head = b"POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
    status, body = exchange(server, head + auth_line() + b"\r\n" + chunk * (LIMIT // 0x2000 + 2) + b"0\r\n\r\n")
    assert status == 413 and b'"body_too_large"' in body
    head = b"POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99999999999\r\nConnection: close\r\n"
    status, body = exchange(server, head + auth_line() + b"\r\n" + b"[" * 100)  # the body never comes
    assert status == 413 and b'"body_too_large"' in body


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"[" * 100_000, "too deeply"),
        (b'{"input": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "too deeply"),
        (b'{"input": "\xff\xfe caf\xe9"}', "utf-8"),
        (b'{"input": "caf\xc3"}', "utf-8"),
        (b'{"input": "\\ud800"}', "lone surrogate"),
        (b'{"input": ["ok", "\\udfff x"]}', "lone surrogate"),
        (b'{"input": "x", "user": {"\\ud83d": 1}}', "lone surrogate"),
        (b'{"input": "x", "dimensions": NaN}', "NaN"),
        (b'{"input": "x", "dimensions": -Infinity}', "Infinity"),
        (b'{"input": "x", "dimensions": 1e999}', "1e999"),
        (b'{"input": "x", "dimensions": ' + b"9" * 5000 + b"}", "digits"),
        (b'{"input": ', "could not parse"),
        (b"", "could not parse"),
    ],
)
def test_bodies_that_are_not_json_are_400(client, body, says):
    assert_error(client.post("/v1/embeddings", content=body, headers={"Content-Type": "application/json"}),
                 400, says=says)  # fmt: skip


def test_a_surrogate_pair_is_one_character_and_fine(client):
    response = client.post("/v1/embeddings", content=b'{"input": "smile \\ud83d\\ude00"}')
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/similarity", b'{"a": "\\ud800", "b": "x"}'),
        ("/v1/search", b'{"query": "cat \\ud800", "mode": "hybrid"}'),
        ("/v1/search", b'{"query": "cat", "filter": "lang = \'\\udc00\'"}'),
        ("/v1/search", b'{"query": "cat", "mode": "hybrid", "weights": [NaN, 1]}'),
        ("/v1/search", b'{"query": "cat", "mode": "hybrid", "weights": [1e400, 1]}'),
    ],
)
def test_lone_surrogates_and_non_finite_numbers_never_reach_the_model_or_index(client, path, body):
    """These once gave 500s: the tokenizer and SQLite refuse lone surrogates, and NaN scores do not encode."""
    assert_error(client.post(path, content=body), 400)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          "application/xml", "image/png"])  # fmt: skip
def test_bodies_declared_as_something_else_than_json_are_415(client, content_type):
    response = client.post("/v1/embeddings", content=b'{"input": "x"}', headers={"Content-Type": content_type})
    assert_error(response, 415, code="unsupported_media_type", says="Content-Type: application/json")


@pytest.mark.parametrize("content_type", [None, "application/json", "application/json; charset=utf-8",
                                          "Application/JSON", "application/vnd.api+json"])  # fmt: skip
def test_json_content_types_and_none_are_accepted(client, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/v1/similarity", content=b'{"a": "x", "b": "y"}', headers=headers)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("path", "body", "status", "param"),
    [
        ("/v1/embeddings", {"input": "x", "model": ["a"]}, 422, "model"),  # once a 500: a list is unhashable
        ("/v1/embeddings", {"input": "x", "model": {"name": "x"}}, 422, "model"),
        ("/v1/search", {"query": "x", "weights": [True, 1]}, 422, "weights"),
        ("/v1/search", {"query": "x", "filter": "(" * 3000 + "n = 1" + ")" * 3000}, 400, "filter"),  # once a 500
        ("/v1/search", {"query": "x", "filter": "not " * 3000 + "n = 1"}, 400, "filter"),
        ("/v1/search", {"query": "x", "index": "../../etc"}, 400, "index"),  # no index path over HTTP
        ("/v1/embeddings", [{"input": "x"}], 422, None),
        ("/v1/embeddings", "x", 422, None),
    ],
)
def test_odd_values_are_refused_by_name(client, path, body, status, param):
    assert_error(client.post(path, json=body), status, param=param)


# --- routes and methods ------------------------------------------------------------------------------------


def test_unknown_paths_and_methods_answer_in_openai_shape(client):
    """Starlette's own {"detail": "Not Found"} once came through."""
    assert_error(client.get("/v2/embeddings"), 404, code="not_found", says="/v2/embeddings")
    response = client.get("/v1/embeddings")
    assert_error(response, 405, says="use POST")
    assert response.headers["allow"] == "POST"
    assert_error(client.delete("/v1/documents/t0"), 405, says="use GET")


# --- auth --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "says"),
    [
        (None, "missing API key"),
        (b"", "missing API key"),
        (b"Bearer", "incorrect"),
        (b"Bearer ", "incorrect"),
        (b"Bearer wrong", "incorrect"),
        (b"Bearer s3cret-", "incorrect"),  # a prefix of the key
        (b"Bearer s3cret-\xc3\xa9 ", "incorrect"),
        (b"Bearer s3cret-\xc3\x83\xc2\xa9", "incorrect"),  # its UTF-8 bytes encoded twice
        (b"Bearer \xff\xfe\x00", "incorrect"),
        (b"Basic czNjcmV0", "incorrect"),
        (b"s3cret-\xc3\xa9", "incorrect"),  # no scheme
    ],
)
def test_missing_wrong_empty_and_non_ascii_tokens_are_401(client, header, says):
    headers = [] if header is None else [(b"authorization", header)]
    bare = TestClient(client.app, raise_server_exceptions=False)  # no `with`: the client's lifespan stays
    for response in (bare.get("/v1/models", headers=headers),
                     bare.post("/v1/embeddings", json={"input": "x"}, headers=headers)):  # fmt: skip
        assert_error(response, 401, code="invalid_api_key", says=says)


def test_a_key_outside_ascii_matches_as_clients_send_it(server):
    """curl sends the key's UTF-8 bytes; the server once matched only its latin-1 bytes, which no client sends.
    (A raw socket: the test client re-encodes header bytes that are not UTF-8.)"""
    request = b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: %s\r\n\r\n"
    for scheme in (b"Bearer ", b"bearer ", b"BEARER "):
        assert exchange(server, request % (scheme + KEY.encode()))[0] == 200
    status, body = exchange(server, request % b"Bearer s3cret-\xe9")  # the key's latin-1 bytes
    assert status == 401 and b'"invalid_api_key"' in body


def test_the_token_is_compared_in_constant_time(client, monkeypatch):
    import hmac

    compared = []
    real = hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert_error(client.get("/v1/models", headers={"Authorization": "Bearer a-much-longer-wrong-key"}), 401,
                 code="invalid_api_key")  # fmt: skip
    assert client.get("/v1/models").status_code == 200
    assert compared == [(b"a-much-longer-wrong-key", KEY.encode()), (KEY.encode(), KEY.encode())]


def test_pages_health_and_the_api_description_need_no_key_but_data_does(client):
    bare = TestClient(client.app, raise_server_exceptions=False)
    for path in ("/", "/healthz", "/docs", "/openapi.json"):  # /docs and its schema were 401
        assert bare.get(path).status_code == 200, path
    document = bare.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    for path in ("/v1/models", "/metrics", "/v1/documents/t0"):
        assert_error(bare.get(path), 401, code="invalid_api_key")


def test_a_cors_preflight_is_answered_without_the_key(encoder, index):
    """Browsers send no Authorization header on a preflight; the guard once refused it (401), so no page on
    another origin could call a server that has a key."""
    app = make_app(encoder, index, cors_origins=("http://127.0.0.1:5173",))
    with TestClient(app, raise_server_exceptions=False) as bare:
        preflight = {"Origin": "http://127.0.0.1:5173", "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "authorization, content-type"}  # fmt: skip
        response = bare.options("/v1/embeddings", headers=preflight)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "http://127.0.0.1:5173"
        refused = bare.post("/v1/embeddings", json={"input": "x"}, headers={"Origin": "http://127.0.0.1:5173"})
        assert_error(refused, 401, code="invalid_api_key")
        assert refused.headers["access-control-allow-origin"] == "http://127.0.0.1:5173"  # the page can read why


# --- document ids ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "doc_id"), [("/v1/documents/dir/t1", "dir/t1"), ("/v1/documents/dir%2Ft1", "dir/t1"),
                                             ("/v1/documents/..%2Ft2", "../t2"),
                                             ("/v1/documents//abs/t3", "/abs/t3")])  # fmt: skip
def test_ids_with_slashes_and_dots_are_documents_like_any_other(client, url, doc_id):
    """An id holding "/" could not be fetched at all (the route took one path segment)."""
    response = client.get(url)
    assert response.status_code == 200, response.text
    assert response.json()["id"] == doc_id and response.json()["text"] == TEXTS[IDS.index(doc_id)]


@pytest.mark.parametrize(
    "url",
    [
        "/v1/documents/..%2F..%2F..%2Fetc%2Fpasswd",
        "/v1/documents/%2Fetc%2Fpasswd",
        "/v1/documents//etc/passwd",
        "/v1/documents/t0%00",
        "/v1/documents/%00",
        "/v1/documents/..%5C..%5Cwindows",
        "/v1/documents/%ff%fe",
        "/v1/documents/%252e%252e%252f",
    ],
)
def test_ids_that_try_to_leave_the_folder_are_plain_misses(client, url):
    assert_error(client.get(url), 404, code="not_found", param="doc_id", says="no document with id")


def test_dot_segments_sent_raw_are_not_resolved_into_other_routes(server):
    """httpx normalises "/../" away; a raw socket sends it as it is."""
    for target in (b"/v1/documents/../../../etc/passwd", b"/v1/documents/./../models", b"/v1/../metrics"):
        status, body = exchange(server, b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                                + auth_line() + b"\r\n")  # fmt: skip
        assert status == 404 and b'"error"' in body and b"Traceback" not in body, (target, body)


# --- slow clients ------------------------------------------------------------------------------------------


def test_slow_clients_do_not_hold_up_the_others(server):
    """One client sends its headers and trickles its body, another stops in the middle of its headers; a
    normal request is still answered, and so is the slow one once its body is complete."""
    body = b'{"input": "slowly does it"}'
    slow, stalled = connect(server), connect(server)
    try:
        head = b"POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        slow.sendall(head + auth_line() + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body[:5])
        stalled.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
        with httpx.Client(base_url=server, headers=AUTH, timeout=60) as normal:
            for _ in range(3):
                assert normal.post("/v1/embeddings", json={"input": "quick"}).status_code == 200
        for i in range(5, len(body)):
            slow.sendall(body[i : i + 1])
        status, answer = read_response(slow)
        assert status == 200 and b'"embedding"' in answer
    finally:
        slow.close()
        stalled.close()


# --- the catch-all -----------------------------------------------------------------------------------------


def test_an_unexpected_failure_is_a_bare_500_and_the_server_goes_on(encoder):
    class Broken:
        path = "stub"

        def search(self, *args, **kwargs):
            raise RuntimeError("secret detail at /srv/private/index.faiss")

        def get(self, doc_id):
            raise KeyError(doc_id)

    with TestClient(make_app(encoder, Broken()), raise_server_exceptions=False, headers=AUTH) as bare:
        for response in (bare.post("/v1/search", json={"query": "x"}), bare.get("/v1/documents/x")):
            error = assert_error_500(response)
            assert error == {"message": "internal server error", "type": "server_error", "param": None, "code": None}
        assert_serving(bare)


def assert_error_500(response) -> dict:
    assert response.status_code == 500 and "secret" not in response.text and "Traceback" not in response.text
    return response.json()["error"]


# --- sockets -----------------------------------------------------------------------------------------------


def auth_line() -> bytes:
    return b"Authorization: " + AUTH["Authorization"] + b"\r\n"


def connect(base: str) -> socket.socket:
    parts = urlsplit(base)
    assert parts.hostname == "127.0.0.1"
    return socket.create_connection((parts.hostname, parts.port), timeout=60)


def exchange(base: str, request: bytes) -> tuple[int, bytes]:
    """(status, body) of one raw HTTP/1.1 exchange; the server may answer before it has read all of `request`."""
    with connect(base) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # it answered and closed meanwhile
            sock.sendall(request)
        return read_response(sock)


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data or len(data) < _expected_length(data):
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def _expected_length(data: bytes) -> int:
    head, _, _ = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(head) + 4 + int(value)
    return 1 << 62  # no length: read until the server closes
