"""Serve stage: `emberta serve`. Parsing and printing only; the bind policy lives in `emberta.serve`."""

from __future__ import annotations

from pathlib import Path

import typer

from emberta.cli.common import echo_err, encoder_options, handle_errors
from emberta.cli.encode_commands import BACKEND, MODEL, QUANTIZE
from emberta.cli.store_options import COLLECTION, STORE, TOKEN, URI, location

PANEL = "Serve"

INDEX = typer.Option(None, help="An index folder to serve /v1/search and /v1/documents from.")
HOST = typer.Option("127.0.0.1", help="Address to bind (loopback unless you give an API key).")
PORT = typer.Option(8000, min=1, max=65535, help="Port to bind.")
API_KEY = typer.Option(None, envvar="EMBERTA_API_KEY", help="Require 'Authorization: Bearer KEY'.")
INSECURE = typer.Option(False, "--insecure", help="Allow a non-loopback address without an API key.")
MAX_BATCH_TOKENS = typer.Option(16_384, min=1, help="Tokens per model call across batched requests.")
MAX_INPUTS = typer.Option(2048, min=1, help="Texts per request (more: 413).")
MAX_INPUT_CHARS = typer.Option(32_768, min=1, help="Characters per text (more: 413).")
MAX_QUEUE = typer.Option(8192, min=1, help="Texts waiting to be encoded before new requests get 503.")
CORS_ORIGIN = typer.Option([], help="Allow browser calls from this origin (repeatable); off by default.")
REPORTS = typer.Option(None, help="A folder of HTML reports (`emberta report`) for the web page to list and open.")
CLASSIFIER = typer.Option(None, help="A classifier folder (`emberta classify train`) to serve POST /v1/classify.")
TAGGER = typer.Option(None, help="A tagger folder (`emberta tag train`) to serve POST /v1/tag.")


def register(app: typer.Typer) -> None:
    app.command("serve", rich_help_panel=PANEL)(serve)


@handle_errors
def serve(
    model: str = MODEL,
    backend: str = BACKEND,
    quantize: str | None = QUANTIZE,
    index: Path | None = INDEX,
    host: str = HOST,
    port: int = PORT,
    api_key: str | None = API_KEY,
    insecure: bool = INSECURE,
    max_batch_tokens: int = MAX_BATCH_TOKENS,
    max_inputs: int = MAX_INPUTS,
    max_input_chars: int = MAX_INPUT_CHARS,
    max_queue: int = MAX_QUEUE,
    cors_origin: list[str] = CORS_ORIGIN,
    reports: Path | None = REPORTS,
    classifier: Path | None = CLASSIFIER,
    tagger: Path | None = TAGGER,
    store: str = STORE,
    uri: str | None = URI,
    collection: str | None = COLLECTION,
    token: str | None = TOKEN,
) -> None:
    """Serve embeddings (OpenAI-compatible /v1/embeddings), search and classification over HTTP."""
    from emberta.encoders import load_encoder
    from emberta.serve import ReportFolder, ServeSettings, check_bind, create_app

    check_bind(host, api_key=api_key, insecure=insecure)
    folder = None if reports is None else ReportFolder(reports)  # before the model loads: a typo fails at once
    if classifier is not None:
        from emberta.classify import Classifier

        classifier = Classifier.load(classifier)
    if tagger is not None:
        from emberta.classify.tagging import Tagger

        tagger = Tagger.load(tagger)
    encoder = load_encoder(model, **encoder_options(backend=backend, quantize=quantize))
    opened = None
    if index is not None or uri is not None:
        from emberta.index.stores import open_index

        opened = open_index(location(store, uri, collection, index), store=store, collection=collection,
                            encoder=encoder, own_encoder_fallback=True, token=token)  # fmt: skip
    import uvicorn

    settings = ServeSettings(api_key=api_key, max_inputs=max_inputs, max_input_chars=max_input_chars,
                             max_batch_tokens=max_batch_tokens, max_queue_texts=max_queue,
                             cors_origins=tuple(cors_origin))  # fmt: skip
    app = create_app(encoder, index=opened, settings=settings, reports=folder, classifier=classifier,
                     tagger=tagger)  # fmt: skip
    echo_err(
        f"serving {encoder.name} on http://{host}:{port} (docs at /docs)"
        + (f", index {opened.path}" if opened is not None else "")
        + (f", reports {reports}" if reports else "")
        + (f", classifier {classifier.folder}" if classifier else "")
        + (f", tagger {tagger.folder}" if tagger else "")
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
