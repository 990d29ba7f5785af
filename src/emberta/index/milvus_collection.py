"""One Milvus collection as an emberta index stores documents in it, through pymilvus.

Fields: `id` (VARCHAR primary key), `vector` (FLOAT_VECTOR, unit length, inner product = cosine), `text`
(VARCHAR, analysed for BM25 when the server offers full-text search, which then fills `sparse`), `meta` (JSON:
the whole metadata as given), and one nullable typed field per filterable metadata field: f0, f1, ... (DOUBLE for
numbers, BOOL, VARCHAR plus its ASCII-folded copy for `like`). The collection's properties hold emberta's
settings (`emberta.config`: encoder, fingerprint, dim) and the field names (`emberta.fields`), so a user's field
name never becomes a Milvus name.

A URI naming a file (`./my.db`) runs Milvus Lite in-process; `http://host:19530` reaches a Milvus server or
cluster. Every pymilvus or gRPC failure becomes an EmbertaError naming the URI.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

from emberta.errors import EmbertaError, InputError, OptionError
from emberta.index.types import Field

CONNECT_SECONDS = 5.0
ANNS = ("hnsw", "flat")
MAX_VARCHAR = 65_535  # bytes: Milvus's limit for one VARCHAR value
CONFIG_KEY, FIELDS_KEY = "emberta.config", "emberta.fields"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")


def require_pymilvus():
    """The pymilvus module, or OptionError naming the extra that installs it."""
    # gRPC's C core logs keepalive chatter between pymilvus and Milvus Lite's in-process server on stderr
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    try:
        import pymilvus
    except ImportError:
        raise OptionError("the Milvus store needs pymilvus: pip install 'emberta[milvus]'") from None
    # pymilvus logs each failed call with its traceback; emberta reports the failure itself, in one line
    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
    logging.getLogger("grpc._server").setLevel(logging.CRITICAL)  # Milvus Lite's server, on calls it lacks
    return pymilvus


def is_lite(uri: str) -> bool:
    """Whether `uri` names a Milvus Lite file rather than a server."""
    return "://" not in uri


def check_ann(ann: str) -> str:
    """`ann` if a Milvus store offers it (hnsw, flat), else OptionError."""
    if ann not in ANNS:
        raise OptionError(f"--ann {ann!r}: a Milvus store takes {' or '.join(ANNS)}")
    return ann


def check_name(collection: str) -> str:
    """`collection` if Milvus accepts it as a collection name, else OptionError."""
    if not _NAME.fullmatch(collection):
        raise OptionError(f"--collection {collection!r}: a Milvus collection name is letters, digits and _, "
                          "starting with a letter or _ (at most 255)")  # fmt: skip
    return collection


@contextlib.contextmanager
def milvus_errors(uri: str, doing: str) -> Iterator[None]:
    """Turn a pymilvus or gRPC error raised inside into an EmbertaError saying what failed, where."""
    import grpc
    from pymilvus.exceptions import MilvusException

    try:
        yield
    except (MilvusException, grpc.RpcError) as exc:
        detail = getattr(exc, "message", None) or (exc.details() if hasattr(exc, "details") else str(exc))
        raise EmbertaError(f"Milvus at {uri}: {doing} failed: {str(detail).splitlines()[0]}") from None


def connect(uri: str, token: str | None = None):
    """A MilvusClient for `uri`: a Milvus Lite file (its folder must exist) or a server address; OptionError
    within CONNECT_SECONDS when the server cannot be reached."""
    pymilvus = require_pymilvus()
    if is_lite(uri):
        folder = Path(uri).expanduser().resolve().parent
        if not folder.is_dir():
            raise OptionError(f"--uri {uri}: folder {folder} does not exist; create it, or give an existing one")
    try:
        return pymilvus.MilvusClient(uri=uri, token=token or "", timeout=CONNECT_SECONDS)
    except Exception as exc:  # pymilvus raises MilvusException, gRPC or OS errors here, depending on the failure
        first = str(getattr(exc, "message", None) or exc).splitlines()[0]
        raise OptionError(
            f"cannot reach Milvus at {uri} ({first}); start the server, or check --uri (a file path for Milvus "
            "Lite, http://host:19530 for a server)"
        ) from None


def field_schema(fields: dict[str, Field]) -> list[dict]:
    """The `emberta.fields` property: [{"name", "column", "type"}] in column order."""
    return [{"name": f.name, "column": f.column, "type": f.type} for f in fields.values()]


def read_fields(properties: dict) -> dict[str, Field]:
    return {f["name"]: Field(f["name"], f["column"], f["type"]) for f in json.loads(properties.get(FIELDS_KEY, "[]"))}


def add_typed_fields(schema, fields: list[Field], pymilvus) -> None:
    """Add the typed columns of `fields` to a pymilvus CollectionSchema (or their specs to a list)."""
    types = pymilvus.DataType
    for field in fields:
        for name, kind, params in typed_columns(field, types):
            schema.add_field(name, kind, nullable=True, **params)


def typed_columns(field: Field, types) -> list[tuple[str, object, dict]]:
    """(Milvus field name, DataType, params) of the column(s) holding one metadata field."""
    from emberta.index.milvus_filters import fold_column

    if field.type == "number":
        return [(field.column, types.DOUBLE, {})]
    if field.type == "bool":
        return [(field.column, types.BOOL, {})]
    text = {"max_length": MAX_VARCHAR}
    return [(field.column, types.VARCHAR, text), (fold_column(field.column), types.VARCHAR, text)]


def new_schema(pymilvus, dim: int, fields: list[Field], *, bm25: bool):
    """The CollectionSchema of an emberta collection with these metadata `fields`; bm25: with the BM25 function
    filling `sparse` from `text`."""
    types = pymilvus.DataType
    schema = pymilvus.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", types.VARCHAR, is_primary=True, max_length=MAX_VARCHAR)
    schema.add_field("vector", types.FLOAT_VECTOR, dim=dim)
    schema.add_field("text", types.VARCHAR, max_length=MAX_VARCHAR, enable_analyzer=bm25)
    schema.add_field("meta", types.JSON)
    if bm25:
        schema.add_field("sparse", types.SPARSE_FLOAT_VECTOR)
        schema.add_function(pymilvus.Function(name="text_bm25", function_type=pymilvus.FunctionType.BM25,
                                              input_field_names=["text"], output_field_names=["sparse"]))  # fmt: skip
    add_typed_fields(schema, fields, pymilvus)
    return schema


def index_params(client, ann: str, *, bm25: bool, m: int = 32, ef_construction: int = 200):
    """Index parameters: the vectors under FLAT (exact) or HNSW, inner product; `sparse` under BM25."""
    params = client.prepare_index_params()
    if ann == "flat":
        params.add_index("vector", index_type="FLAT", metric_type="IP")
    elif ann == "hnsw":
        params.add_index("vector", index_type="HNSW", metric_type="IP",
                         params={"M": m, "efConstruction": ef_construction})  # fmt: skip
    else:
        check_ann(ann)
    if bm25:
        params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    return params


def check_sizes(doc_id: str, text: str, meta_json: str, where: str | None) -> None:
    """InputError when a document's id, text or metadata is longer than Milvus holds in one value."""
    place = f"{where}: " if where else ""
    for what, value in (("id", doc_id), ("text", text), ("metadata", meta_json)):
        size = len(value.encode("utf-8", "surrogatepass"))
        if size > MAX_VARCHAR:
            raise InputError(f"{place}document {doc_id[:40]!r}: its {what} is {size} bytes; a Milvus store holds at "
                             f"most {MAX_VARCHAR} (split long texts into passages)")  # fmt: skip


def create_collection(client, uri: str, collection: str, config: dict, fields: dict[str, Field]) -> bool:
    """Create an emberta collection with these settings (`config`: dim, ann, ...) and metadata `fields`, with BM25
    when the server offers full-text search (else without: an older server refuses the BM25 function); returns
    whether it has BM25."""
    pymilvus = require_pymilvus()
    properties = {CONFIG_KEY: json.dumps(config), FIELDS_KEY: json.dumps(field_schema(fields))}
    dim = int(config["dim"])
    with milvus_errors(uri, f"creating collection {collection!r}"):
        for bm25 in (True, False):
            params = index_params(client, config["ann"], bm25=bm25)
            schema = new_schema(pymilvus, dim, list(fields.values()), bm25=bm25)
            try:
                client.create_collection(collection, schema=schema, index_params=params, properties=properties,
                                         consistency_level="Strong")  # fmt: skip
                return bm25
            except pymilvus.exceptions.MilvusException:
                if not bm25 or client.has_collection(collection):
                    raise
    return False


def id_filter(ids: list[str]) -> str:
    """The expression selecting documents by id, the ids written by `milvus_literal`."""
    from emberta.index.milvus_filters import milvus_literal

    return "id in [" + ", ".join(milvus_literal(i) for i in ids) + "]"
