"""Encode stage: `emberta encode`, `emberta similarity`, `emberta info`. Parsing and printing only."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from emberta.cli.common import echo_err, encoder_options, handle_errors, progress_bar

PANEL = "Encode"

MODEL = typer.Option(
    "default", "--model", "-m",
    help="'default' (all-MiniLM-L6-v2) or a local model folder; MODEL@onnx, @onnx-int8, @openvino or @openvino-int8 "
    "picks a backend.",
)  # fmt: skip
POOLING = typer.Option(
    None,
    help="cls | mean | max | weightedmean | lasttoken | 'prompt:<template>' (PromptBERT, e.g. "
    "'prompt:This sentence : \"{text}\" means [MASK] .'). Default: the model's own.",
)
NORMALIZE = typer.Option(None, "--normalize/--no-normalize", help="L2-normalize vectors. Default: the model's own.")
PROMPT = typer.Option(None, help="A literal prefix for every text, e.g. 'query: '.")
PROMPT_NAME = typer.Option(None, help="One of the model's named prompts (see `emberta info`), e.g. query.")
TRUNCATE_DIM = typer.Option(None, help="Keep the first D dimensions (renormalized when normalizing).")
MAX_LENGTH = typer.Option(None, help="Tokens per input, special tokens included. Default: the model's.")
LAYER = typer.Option(None, help="Pool hidden layer L instead of the last (0 = embeddings; negative from the end).")
LONG_TEXT = typer.Option("warn", help="Texts over max-length: 'warn' (truncate, report the count) or 'chunk'.")
CHUNK_OVERLAP = typer.Option(32, help="Tokens shared by consecutive windows with --long-text chunk.")
THREADS = typer.Option(None, help="CPU threads of torch, ONNX Runtime or OpenVINO (default: all cores).")
BACKEND = typer.Option(
    "torch",
    help="torch (sentence-transformers), onnx (ONNX Runtime), openvino (OpenVINO; fastest on a CPU) or static. "
    "onnx and openvino export the model on first use and cache the export.",
)
QUANTIZE = typer.Option(
    None, help="int8 (with --backend onnx or openvino): dynamic int8 with onnx, calibrated static int8 with openvino."
)


INPUT = typer.Argument(
    ..., help="Texts: .txt (one per line), .jsonl, .csv, .tsv (optionally .gz), .parquet; '-' for standard input."
)
OUT = typer.Option(..., "--out", "-o", help="Output: .npy (plus OUT.json sidecar) or .parquet (id + vector).")
FIELD = typer.Option("text", help="JSON field or CSV/parquet column holding the text.")
ID_FIELD = typer.Option(None, help="Field holding row ids (.npy: written to OUT.ids.jsonl).")
BATCH_SIZE = typer.Option(32, min=1, help="Texts per forward pass.")
ERRORS = typer.Option("strict", help="Lines that are not UTF-8: 'strict' (stop) or 'replace' (U+FFFD).")
LIMIT = typer.Option(None, min=1, help="Encode only the first N texts.")
INPUT_FORMAT = typer.Option(
    None,
    "--format",
    help="Input format: txt, jsonl, csv, tsv or parquet (add .gz when gzipped). Needed for standard input ('-'); "
    "for a file it overrides the suffix (a name ending in .gz is still read as gzipped).",
)
QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar or summary.")
ENGINE = typer.Option(
    "local",
    help="local (this process) or ray (Ray Data on a cluster, or on this machine without --ray-address): INPUT may "
    "then be a glob or a folder of shards, and --out is a folder of parquet shards plus OUT.json.",
)
RAY_ADDRESS = typer.Option(None, help="With --engine ray: the cluster (HOST:PORT of `ray start --head`, or auto).")
WORKERS = typer.Option(1, min=1, help="With --engine ray: encoder actors at once (each loads the model once).")
RESUME = typer.Option(False, "--resume", help="With --engine ray: finish a killed job from the shards it wrote.")
SHARD_ROWS = typer.Option(10_000, min=1, help="With --engine ray: rows per output shard (and per resume step).")


def register(app: typer.Typer) -> None:
    app.command("encode", rich_help_panel=PANEL)(encode)
    app.command("similarity", rich_help_panel=PANEL)(similarity)
    app.command("info", rich_help_panel=PANEL)(info)


@handle_errors
def encode(
    input: Path = INPUT,
    out: Path = OUT,
    model: str = MODEL,
    field: str = FIELD,
    id_field: str | None = ID_FIELD,
    input_format: str | None = INPUT_FORMAT,
    batch_size: int = BATCH_SIZE,
    pooling: str | None = POOLING,
    normalize: bool | None = NORMALIZE,
    prompt: str | None = PROMPT,
    prompt_name: str | None = PROMPT_NAME,
    truncate_dim: int | None = TRUNCATE_DIM,
    max_length: int | None = MAX_LENGTH,
    layer: int | None = LAYER,
    long_text: str = LONG_TEXT,
    chunk_overlap: int = CHUNK_OVERLAP,
    errors: str = ERRORS,
    limit: int | None = LIMIT,
    threads: int | None = THREADS,
    backend: str = BACKEND,
    quantize: str | None = QUANTIZE,
    quiet: bool = QUIET,
    engine: str = ENGINE,
    ray_address: str | None = RAY_ADDRESS,
    workers: int = WORKERS,
    resume: bool = RESUME,
    shard_rows: int = SHARD_ROWS,
) -> None:
    """Encode a file of texts into a vector file (streamed; written atomically), or on Ray (--engine ray)."""
    from emberta.embed_file import encode_file
    from emberta.encoders import load_encoder
    from emberta.io.readers import TextReader
    from emberta.io.vectors import check_vector_path

    options = encoder_options(pooling=pooling, normalize=normalize, truncate_dim=truncate_dim, max_length=max_length,
                              layer=layer, long_text=long_text, chunk_overlap=chunk_overlap, threads=threads,
                              prompt=prompt, prompt_name=prompt_name, backend=backend, quantize=quantize)  # fmt: skip
    if engine != "local" or ray_address is not None or resume:
        ray_job = dict(model=model, encoder_options=options, workers=workers, batch_size=batch_size,
                       address=ray_address, resume=resume, shard_rows=shard_rows)  # fmt: skip
        reader_args = dict(format=input_format, field=field, id_field=id_field, errors=errors)
        return _encode_ray(engine, str(input), out, reader_args, ray_job, limit=limit, quiet=quiet)
    reader = TextReader(input, format=input_format, field=field, id_field=id_field, errors=errors)
    reader.check_first()
    check_vector_path(out)
    encoder = load_encoder(model, **options)

    def total() -> int | None:
        return min((n for n in (reader.count_hint(), limit) if n is not None), default=None)

    with progress_bar("encoding", quiet=quiet, total=total) as advance:
        report = encode_file(encoder, reader, str(out), batch_size=batch_size, limit=limit, on_progress=advance)
    if report.replaced_lines:
        echo_err(f"warning: {report.replaced_lines} lines were not UTF-8 and were decoded with U+FFFD replacements")
    if not quiet:
        echo_err(f"wrote {report.count} x {report.dim} float32 vectors to {out} (model {encoder.name})")


def _encode_ray(engine: str, input: str, out: Path, reader_args: dict, job: dict, *, limit: int | None,
                quiet: bool) -> None:  # fmt: skip
    """`emberta encode --engine ray`: the job on a Ray cluster, with a progress bar of rows encoded."""
    from emberta.errors import OptionError

    if engine != "ray":
        raise OptionError(f"unknown --engine {engine!r}; use local or ray (--ray-address and --resume need ray)")
    if limit is not None:
        raise OptionError("--limit is not supported with --engine ray; encode a smaller input file instead")
    from emberta.scale import ReaderArgs, encode_on_ray

    with progress_bar("encoding on Ray", quiet=quiet) as advance:
        report = encode_on_ray(input, out, reader=ReaderArgs(**reader_args), on_progress=advance, **job)
    if report.long_texts:
        echo_err(f"warning: {report.long_texts} texts were longer than the model's max length and were truncated")
    if not quiet:
        resumed = f" ({report.shards_resumed} shards from the earlier run)" if report.shards_resumed else ""
        echo_err(f"wrote {report.count} x {report.dim} float32 vectors to {out}/ in {len(report.sidecar['shards'])} "
                 f"shards{resumed}, sidecar {out}.json (model {report.sidecar['model']})")  # fmt: skip


@handle_errors
def similarity(
    text_a: str = typer.Argument(..., help="First text."),
    text_b: str = typer.Argument(..., help="Second text."),
    model: str = MODEL,
    pooling: str | None = POOLING,
    prompt_name: str | None = PROMPT_NAME,
    max_length: int | None = MAX_LENGTH,
    layer: int | None = LAYER,
    truncate_dim: int | None = TRUNCATE_DIM,
    backend: str = BACKEND,
    quantize: str | None = QUANTIZE,
) -> None:
    """Print the cosine similarity of two texts."""
    from emberta.encoders import load_encoder
    from emberta.similarity import paired_cosine

    options = encoder_options(pooling=pooling, prompt_name=prompt_name, max_length=max_length, layer=layer,
                              truncate_dim=truncate_dim, backend=backend, quantize=quantize)  # fmt: skip
    vectors = load_encoder(model, **options).encode([text_a, text_b], show_progress=False)
    typer.echo(f"{float(paired_cosine(vectors[:1], vectors[1:])[0]):.4f}")


@handle_errors
def info(
    model: str = typer.Argument("default", help="'default' or a local model folder."),
    pooling: str | None = POOLING,
    max_length: int | None = MAX_LENGTH,
    backend: str = BACKEND,
    quantize: str | None = QUANTIZE,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Describe a model: architecture, parameters, dim, max length, pooling, prompts."""
    from emberta.encoders import load_encoder

    options = encoder_options(pooling=pooling, max_length=max_length, backend=backend, quantize=quantize)
    details = load_encoder(model, **options).describe()
    if as_json:
        typer.echo(json.dumps(details, indent=2))
        return
    from rich.console import Console

    from emberta.report.tables import model_table

    Console(highlight=False).print(model_table(details))
