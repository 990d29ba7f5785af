"""`emberta`: one command line for the life of an embedding model. Commands are grouped by stage."""

from __future__ import annotations

import typer

from emberta.cli import (
    align_commands,
    classify_commands,
    encode_commands,
    eval_commands,
    fast_commands,
    geometry_commands,
    index_commands,
    mlm_commands,
    pretrain_commands,  # noqa: F401  (adds `train tokenizer` and `train mlm`)
    report_commands,
    serve_commands,
    tag_commands,
    train_commands,
)
from emberta.version import __version__

app = typer.Typer(
    name="emberta",
    help="Offline-first toolkit for text embeddings with BERT/RoBERTa-family encoders.\n\n"
    "Models are 'default' (all-MiniLM-L6-v2, shipped with emberta) or a local model folder; "
    "nothing is ever downloaded.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"emberta {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Offline-first toolkit for text embeddings."""


encode_commands.register(app)
align_commands.register(app)
classify_commands.register(app)
eval_commands.register(app)
fast_commands.register(app)
geometry_commands.register(app)
index_commands.register(app)
report_commands.register(app)
serve_commands.register(app)
train_commands.register(app)
mlm_commands.register(app)
tag_commands.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
