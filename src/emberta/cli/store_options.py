"""The options that say where an index lives (`--store`, `--uri`, `--collection`), shared by the index, search
and serve commands, and the reading of positional arguments they shift: with `--store milvus` there is no index
folder, so `emberta index add FILE`, `emberta index delete ID...` and `emberta search QUERY` lose their first
argument. Parsing only; `emberta.index.stores` decides."""

from __future__ import annotations

from pathlib import Path

import typer

STORE = typer.Option("local", "--store", help="local (an index folder) or milvus (a Milvus collection at --uri).")
URI = typer.Option(
    None, "--uri", help="With --store milvus: a file for Milvus Lite (./my.db), or http://host:19530 for a server."
)
COLLECTION = typer.Option(None, "--collection", help="With --store milvus: the collection (default: emberta).")
TOKEN = typer.Option(None, "--token", envvar="MILVUS_TOKEN", help="With --store milvus: a server's user:password.")


def location(store: str, uri: str | None, collection: str | None, folder: Path | None):
    """Where the index is: the folder (local) or the URI (milvus), checked (OptionError naming what is missing)."""
    from emberta.index.stores import check_store

    check_store(store, folder if store == "local" else uri, collection)
    if store == "milvus" and folder is not None:
        from emberta.errors import OptionError

        raise OptionError(f"with --store milvus the index is --uri; {str(folder)!r} is one argument too many")
    return folder if store == "local" else uri


def shift(store: str, first, rest, what: str) -> tuple:
    """(index folder or None, the rest) of positional arguments: with --store milvus the first one given is the
    first of `rest`, and there is no folder."""
    from emberta.errors import OptionError

    if store != "milvus":
        if rest is None or rest == []:
            raise OptionError(f"give the index folder and {what}")
        return first, rest
    if rest not in (None, []) and not isinstance(rest, list):
        raise OptionError(f"with --store milvus give {what} only (the index is --uri)")
    if first is None:
        raise OptionError(f"give {what}")
    return None, ([str(first), *rest] if isinstance(rest, list) else str(first))
