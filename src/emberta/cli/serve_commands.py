"""Serve stage: `emberta serve`. Parsing and printing only."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import typer

from emberta.cli.common import echo_err, encoder_options, handle_errors
from emberta.cli.encode_commands import BACKEND, MODEL, QUANTIZE

PANEL = "Serve"


def register(app: typer.Typer) -> None:
    app.command("serve", rich_help_panel=PANEL)(serve)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@handle_errors
def serve(
    model: str = MODEL,
    backend: str = BACKEND,
    quantize: str | None = QUANTIZE,
    index: Path | None = typer.Option(None, help="An index folder to serve /v1/search and /v1/documents from."),
    host: str = typer.Option("127.0.0.1", help="Address to bind (loopback unless you give an API key)."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to bind."),
    api_key: str | None = typer.Option(None, envvar="EMBERTA_API_KEY", help="Require 'Authorization: Bearer KEY'."),
    insecure: bool = typer.Option(False, "--insecure", help="Allow a non-loopback address without an API key."),
    max_batch_tokens: int = typer.Option(16_384, min=1, help="Tokens per model call across batched requests."),
    max_inputs: int = typer.Option(2048, min=1, help="Texts per request (more: 413)."),
    max_input_chars: int = typer.Option(32_768, min=1, help="Characters per text (more: 413)."),
    max_queue: int = typer.Option(8192, min=1, help="Texts waiting to be encoded before new requests get 503."),
    cors_origin: list[str] = typer.Option(
        [], help="Allow browser calls from this origin (repeatable); off by default."
    ),
) -> None:
    """Serve embeddings (OpenAI-compatible /v1/embeddings) and search over HTTP."""
    from emberta.encoders import load_encoder
    from emberta.errors import OptionError

    if not is_loopback(host) and not api_key and not insecure:
        raise OptionError(
            f"--host {host} is reachable from other machines; give an API key (--api-key or EMBERTA_API_KEY) or "
            "pass --insecure to serve it without one"
        )
    encoder = load_encoder(model, **encoder_options(backend=backend, quantize=quantize))
    opened = None
    if index is not None:
        from emberta.index import Index

        opened = Index.open(index, encoder=encoder if _same_vectors(index, encoder) else None)
    import uvicorn

    from emberta.serve import ServeSettings, create_app

    settings = ServeSettings(api_key=api_key, max_inputs=max_inputs, max_input_chars=max_input_chars,
                             max_batch_tokens=max_batch_tokens, max_queue_texts=max_queue,
                             cors_origins=tuple(cors_origin))  # fmt: skip
    app = create_app(encoder, index=opened, settings=settings)
    echo_err(f"serving {encoder.name} on http://{host}:{port} (docs at /docs)" + (f", index {index}" if index else ""))
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _same_vectors(index: Path, encoder) -> bool:
    import json

    try:
        return json.loads((index / "index.json").read_text())["fingerprint"] == encoder.fingerprint
    except (OSError, ValueError, KeyError):
        return False
