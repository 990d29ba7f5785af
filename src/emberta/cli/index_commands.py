"""Index & search stage: `emberta index build|add|delete|info|check|compact|repair|migrate` and `emberta search`.
Parsing and printing only."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from emberta.cli.common import echo_err, encoder_options, handle_errors, progress_bar
from emberta.cli.encode_commands import BACKEND, INPUT_FORMAT, MAX_LENGTH, MODEL, POOLING, QUANTIZE, QUIET, THREADS
from emberta.cli.store_options import COLLECTION, STORE, TOKEN, URI, location, shift

PANEL = "Index & search"

index_app = typer.Typer(help="Build and maintain a document index (SQLite + FTS5 + FAISS).", no_args_is_help=True)
INDEX = typer.Argument(..., help="The index folder.")
SOURCE = typer.Argument(
    ..., help="Documents: .jsonl, .csv, .tsv (optionally .gz) or .parquet; '-' for standard input (with --format)."
)
ID_FIELD = typer.Option("id", help="Field holding document ids.")
TEXT_FIELD = typer.Option("text", help="Field holding the text.")
META_FIELDS = typer.Option(
    None, help="Comma-separated metadata fields to store and filter on, or '*' for every other field."
)
UPSERT = typer.Option(False, "--upsert", help="Replace documents whose id is already in the index (else: error).")
BUILD_OUT = typer.Option(None, "--out", "-o", help="The new index folder (must not exist; not with --store milvus).")
MAYBE_INDEX = typer.Argument(None, help="The index folder (left out with --store milvus).", show_default=False)
ANN = typer.Option("hnsw", help="hnsw, flat, or a FAISS factory string such as 'IVF256,PQ32'.")
INDEX_QUANTIZE = typer.Option(
    None, help="int8 or binary: keep quantized codes in the ANN and re-score its shortlist with float vectors."
)
TRANSFORM = typer.Option(None, help="A saved transform pipeline folder applied before indexing.")
BUILD_UPSERT = typer.Option(False, "--upsert", help="Later rows replace earlier rows with the same id.")
INDEX_BACKEND = typer.Option(None, help=BACKEND.help)
ENCODER_QUANTIZE = typer.Option(None, "--encoder-quantize", help=QUANTIZE.help)
AS_JSON = typer.Option(False, "--json", help="Print JSON (as without it; accepted as in `emberta search --json`).")
QUERY = typer.Argument(None, help="The query text.", show_default=False)
K = typer.Option(10, "-k", "--k", min=1, help="Number of results.")
FILTER = typer.Option(
    None, "--filter", "-f", help="Metadata filter, e.g. \"lang = 'en' and year >= 2020 and tag in ('a','b')\"."
)
MODE = typer.Option("dense", help="dense (cosine), bm25 or hybrid (reciprocal-rank fusion).")
WEIGHTS = typer.Option("1,1", help="Hybrid weights: dense,bm25.")
EF = typer.Option(None, min=1, help="HNSW search breadth (default: the index's).")
EXACT = typer.Option(False, "--exact", help="Skip the ANN: exact cosine over every passing document.")
HUBNESS = typer.Option(None, help="csls: re-rank the dense shortlist to demote hubs.")
SEARCH_JSON = typer.Option(False, "--json", help="Print results as JSON lines.")


def register(app: typer.Typer) -> None:
    app.add_typer(index_app, name="index", rich_help_panel=PANEL)
    app.command("search", rich_help_panel=PANEL)(search)


def _reader(source: Path, input_format: str | None, text_field: str, id_field: str, meta_fields: str | None):
    from emberta.io.readers import TextReader

    fields = None
    if meta_fields:
        fields = "*" if meta_fields.strip() == "*" else [f.strip() for f in meta_fields.split(",") if f.strip()]
    return TextReader(source, format=input_format, field=text_field, id_field=id_field, meta_fields=fields)


VECTORS = typer.Option(
    None, "--vectors", help="The documents' vectors from `emberta encode` (a file, or the shard folder of --engine "
    "ray), matched by id: no encoding here. They must come from the index's model and options.",
)  # fmt: skip


def _precomputed(vectors: Path | None):
    if vectors is None:
        return None
    from emberta.index.precomputed import PrecomputedVectors

    return PrecomputedVectors(vectors)


@index_app.command("build")
@handle_errors
def build(
    source: Path = SOURCE,
    out: Path = BUILD_OUT,
    model: str = MODEL,
    id_field: str = ID_FIELD,
    text_field: str = TEXT_FIELD,
    meta_fields: str | None = META_FIELDS,
    input_format: str | None = INPUT_FORMAT,
    ann: str = ANN,
    quantize: str | None = INDEX_QUANTIZE,
    transform: Path | None = TRANSFORM,
    upsert: bool = BUILD_UPSERT,
    pooling: str | None = POOLING,
    max_length: int | None = MAX_LENGTH,
    threads: int | None = THREADS,
    backend: str | None = INDEX_BACKEND,
    encoder_quantize: str | None = ENCODER_QUANTIZE,
    quiet: bool = QUIET,
    vectors: Path | None = VECTORS,
    store: str = STORE,
    uri: str | None = URI,
    collection: str | None = COLLECTION,
    token: str | None = TOKEN,
) -> None:
    """Build an index from a file of documents (written to a hidden folder, renamed into place when done), or a
    new Milvus collection (--store milvus --uri URI)."""
    from emberta.errors import OptionError
    from emberta.index.maintenance import build_index
    from emberta.index.stores import build_milvus

    if store == "local" and out is None:
        raise OptionError("give --out FOLDER (the new index), or --store milvus --uri URI")
    out = location(store, uri, collection, out)
    if store == "milvus" and (quantize or transform):
        raise OptionError("--quantize and --transform are local-index options; leave them out with --store milvus")
    reader = _reader(source, input_format, text_field, id_field, meta_fields)
    precomputed = _precomputed(vectors)
    options = encoder_options(
        pooling=pooling, max_length=max_length, threads=threads, backend=backend, quantize=encoder_quantize
    )
    with progress_bar("indexing", quiet=quiet, total=reader.count_hint) as advance:
        if store == "milvus":
            totals = build_milvus(reader, uri, collection, model=model, encoder_options=options, ann=ann,
                                  upsert=upsert, on_progress=advance, token=token, vectors=precomputed)  # fmt: skip
        else:
            totals = build_index(
                reader,
                out,
                model=model,
                encoder_options=options,
                ann=ann,
                quantize=quantize,
                transform=transform,
                upsert=upsert,
                on_progress=advance,
                vectors=precomputed,
            )
    if not quiet:
        echo_err(f"indexed {totals['added']} documents into {out}" + (f"#{collection or 'emberta'}" if uri else ""))


@index_app.command("add")
@handle_errors
def add(
    index: Path | None = MAYBE_INDEX,
    source: Path | None = typer.Argument(None, help=SOURCE.help, show_default=False),
    id_field: str = ID_FIELD,
    text_field: str = TEXT_FIELD,
    meta_fields: str | None = META_FIELDS,
    input_format: str | None = INPUT_FORMAT,
    upsert: bool = UPSERT,
    quiet: bool = QUIET,
    vectors: Path | None = VECTORS,
    store: str = STORE,
    uri: str | None = URI,
    collection: str | None = COLLECTION,
    token: str | None = TOKEN,
) -> None:
    """Add documents from a file; each batch of 2,048 is committed all or nothing (with --store milvus: sent as
    one request once checked)."""
    from emberta.index.maintenance import add_file
    from emberta.index.stores import open_index

    index, source = shift(store, index, source, "the documents file")
    index = location(store, uri, collection, index)
    reader = _reader(Path(source), input_format, text_field, id_field, meta_fields)
    reader.check_first()
    precomputed = _precomputed(vectors)
    progress = progress_bar("indexing", quiet=quiet, total=reader.count_hint)
    opened = open_index(index, store=store, collection=collection, writable=True, token=token)
    with opened as idx, progress as advance:
        totals = add_file(idx, reader, upsert=upsert, on_progress=advance, vectors=precomputed)
    if not quiet:
        echo_err(f"added {totals['added']} and replaced {totals['replaced']} documents in {index}")


@index_app.command("delete")
@handle_errors
def delete(
    index: Path | None = MAYBE_INDEX,
    ids: list[str] | None = typer.Argument(None, help="Ids of the documents to delete.", show_default=False),
    missing_ok: bool = typer.Option(False, "--missing-ok", help="Skip ids that are not in the index."),
    store: str = STORE,
    uri: str | None = URI,
    collection: str | None = COLLECTION,
    token: str | None = TOKEN,
) -> None:
    """Delete documents by id (one transaction)."""
    from emberta.index.stores import open_index

    index, ids = shift(store, index, ids or [], "the ids to delete")
    index = location(store, uri, collection, index)
    with open_index(index, store=store, collection=collection, writable=True, token=token) as idx:
        deleted = idx.delete(ids, missing_ok=missing_ok)
    echo_err(f"deleted {deleted} documents from {index}")


@index_app.command("info")
@handle_errors
def info(
    index: Path | None = MAYBE_INDEX,
    as_json: bool = AS_JSON,
    store: str = STORE,
    uri: str | None = URI,
    collection: str | None = COLLECTION,
    token: str | None = TOKEN,
) -> None:
    """Print an index's settings and counts as JSON."""
    from emberta.index.stores import open_index

    index = location(store, uri, collection, index)
    with open_index(index, store=store, collection=collection, token=token) as idx:
        typer.echo(json.dumps(idx.info(), indent=2))


@index_app.command("check")
@handle_errors
def check(index: Path = INDEX) -> None:
    """Check that the parts of an index agree; exit 1 and list the problems when they do not."""
    from emberta.index.maintenance import check_index

    problems = check_index(index)
    if not problems:
        typer.echo(f"{index}: ok")
        return
    for problem in problems:
        typer.echo(f"{index}: {problem}")
    typer.echo(f"run `emberta index repair {index}` to fix what can be fixed")
    raise typer.Exit(1)


@index_app.command("compact")
@handle_errors
def compact(index: Path = INDEX) -> None:
    """Rewrite an index without the slots that deleted and replaced documents left behind."""
    from emberta.index.maintenance import compact_index

    result = compact_index(index)
    typer.echo(f"{index}: compacted: {result['documents']} documents, {result['slots_before']} slots before")


@index_app.command("repair")
@handle_errors
def repair(index: Path = INDEX) -> None:
    """Restore index.json, re-encode missing vectors and rebuild the ANN file from the documents database."""
    from emberta.index.maintenance import repair_index

    actions = repair_index(index)
    for action in actions or ["nothing to repair"]:
        typer.echo(f"{index}: {action}")


@index_app.command("migrate")
@handle_errors
def migrate(
    index: Path = INDEX,
    to_model: str | None = typer.Option(None, help="The new model (a spec as for --model)."),
    adapter: Path | None = typer.Option(
        None,
        help="An adapter folder from `emberta align fit --source NEW --target "
        "OLD` (default: fit one on --fit-on documents of the index).",
    ),
    fit_on: int | None = typer.Option(None, min=2, help="Documents to fit the adapter on (default: up to 5,000)."),
    method: str = typer.Option("procrustes", help="The fitted adapter: procrustes, affine or mlp."),
    block: int = typer.Option(512, min=1, help="Documents re-encoded per commit."),
    backend: str | None = INDEX_BACKEND,
    cancel: bool = typer.Option(False, "--cancel", help="Drop the migration under way (the index stays as it was)."),
    quiet: bool = QUIET,
) -> None:
    """Move an index to a new model without downtime: queries are answered at once through an adapter (new-model
    queries mapped into the old vectors' space) while every document is re-encoded in the background; the new
    index replaces the old at the end. Killed, it resumes when run again; searches work throughout."""
    from emberta.errors import OptionError
    from emberta.index.migrate import migrate_index
    from emberta.index.migration import cancel_migration

    if cancel:
        found = cancel_migration(index)
        typer.echo(f"{index}: {'migration cancelled' if found else 'no migration under way'}")
        return
    if to_model is None:
        raise OptionError("give --to-model SPEC (the new model), or --cancel")

    def started(progress: dict) -> None:
        if not quiet:
            echo_err(f"{index}: queries now go through the adapter ({progress['method']}); re-encoding "
                     f"{progress['documents']} documents ({progress['re_encoded']} done before)")  # fmt: skip

    with progress_bar("re-encoding", quiet=quiet) as advance:
        final = migrate_index(index, to_model, encoder_options=encoder_options(backend=backend), adapter=adapter,
                              fit_on=fit_on, method=method, block=block, on_start=started,
                              on_progress=advance)  # fmt: skip
    typer.echo(f"{index}: migrated to {to_model}: {final['documents']} documents re-encoded and swapped in")


@handle_errors
def search(
    index: Path | None = MAYBE_INDEX,
    query: str | None = QUERY,
    k: int = K,
    filter: str | None = FILTER,
    mode: str = MODE,
    weights: str = WEIGHTS,
    ef: int | None = EF,
    exact: bool = EXACT,
    hubness: str | None = HUBNESS,
    as_json: bool = SEARCH_JSON,
    store: str = STORE,
    uri: str | None = URI,
    collection: str | None = COLLECTION,
    token: str | None = TOKEN,
) -> None:
    """Search an index by meaning, keywords or both, optionally restricted by a metadata filter."""
    from emberta.errors import OptionError
    from emberta.index.stores import open_index

    index, query = shift(store, index, query, "the query")
    index = location(store, uri, collection, index)
    try:
        weight_pair = tuple(float(w) for w in weights.split(","))
    except ValueError:
        weight_pair = ()
    if len(weight_pair) != 2:
        raise OptionError(f"--weights {weights!r}: give two numbers, dense,bm25 (e.g. 1,0.5)")
    with open_index(index, store=store, collection=collection, token=token) as idx:
        hits = idx.search(query, k, filter=filter, mode=mode, weights=weight_pair, ef=ef, exact=exact, hubness=hubness)
    for rank, hit in enumerate(hits, start=1):
        if as_json:
            record = {"rank": rank, "id": hit.id, "score": hit.score, "text": hit.text, "metadata": hit.metadata}
            typer.echo(json.dumps(record, ensure_ascii=False))
        else:
            text = hit.text if len(hit.text) <= 100 else hit.text[:97] + "..."
            meta = f"  {json.dumps(hit.metadata, ensure_ascii=False)}" if hit.metadata else ""
            typer.echo(f"{rank:>3}  {hit.score:8.4f}  {hit.id}  {text}{meta}")
    if not hits and not as_json:
        echo_err("no results")
