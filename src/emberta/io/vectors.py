"""Vector files: a float32 (n, dim) matrix as .npy (with an OUT.json sidecar, and OUT.ids.jsonl when ids are
given) or as .parquet (id + vector columns). Writers stream row blocks to a temporary file and rename on
success, so an interrupted write leaves no partial output."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from emberta.errors import InputError, OutputError
from emberta.io.atomic import check_writable_dir, temp_path_for
from emberta.io.jsontext import parse_json, read_json_file

VECTOR_FORMATS = (".npy", ".parquet")
SIDECAR_FORMAT = "emberta.vectors/1"
# A header wide enough for any row count, so the real count can be written in place at the end.
_NPY_MAX_ROWS = 10**15


def sidecar_path(path: str | Path) -> Path:
    return Path(f"{path}.json")


def ids_path(path: str | Path) -> Path:
    return Path(f"{path}.ids.jsonl")


def check_vector_path(path: str | Path) -> Path:
    """Validate an output path before any work: supported suffix, existing directory."""
    path = Path(path)
    if path.suffix.lower() not in VECTOR_FORMATS:
        raise OutputError(f"--out {path}: unsupported format {path.suffix or '(no suffix)'!r}; use .npy or .parquet")
    return check_writable_dir(path)


class VectorWriter:
    """Stream (ids, vectors) blocks into `path`. Use as a context manager: the files appear on a clean exit
    and nothing is left on an exception. `metadata` goes into the OUT.json sidecar (count and dim added)."""

    def __init__(self, path: str | Path, dim: int, *, with_ids: bool, metadata: dict | None = None):
        self.path = check_vector_path(path)
        self.dim, self.with_ids = int(dim), with_ids
        self.metadata = dict(metadata or {})
        self.count = 0
        self._format = self.path.suffix.lower()
        self._temps: list[Path] = []
        self._data_tmp = self._temp(self.path)
        self._ids_tmp = self._temp(ids_path(self.path)) if with_ids and self._format == ".npy" else None
        self._open()

    def _temp(self, final: Path) -> Path:
        tmp = temp_path_for(final)
        self._temps.append(tmp)
        return tmp

    def _open(self) -> None:
        if self._format == ".npy":
            self._data = open(self._data_tmp, "wb")  # noqa: SIM115 - stays open across write() calls
            self._header_len = len(_npy_header(_NPY_MAX_ROWS, self.dim))
            self._data.write(_npy_header(0, self.dim, self._header_len))
            self._ids = open(self._ids_tmp, "w", encoding="utf-8") if self._ids_tmp else None  # noqa: SIM115
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            self._schema = pa.schema([("id", pa.string()), ("vector", pa.list_(pa.float32(), self.dim))])
            self._data = pq.ParquetWriter(self._data_tmp, self._schema)

    def write(self, vectors: np.ndarray, ids: Sequence[str] | None = None) -> None:
        """Append rows. vectors: (k, dim) float32; ids: k strings (required when with_ids)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise OutputError(f"expected vectors of shape (k, {self.dim}), got {vectors.shape}")
        if self.with_ids and (ids is None or len(ids) != len(vectors)):
            raise OutputError("one id per vector is required")
        if self._format == ".npy":
            self._data.write(vectors.tobytes())
            if self._ids is not None:
                self._ids.writelines(json.dumps(i, ensure_ascii=False) + "\n" for i in ids)
        else:
            import pyarrow as pa

            row_ids = list(ids) if ids is not None else [str(self.count + i) for i in range(len(vectors))]
            column = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), self.dim)
            self._data.write_table(pa.table({"id": pa.array(row_ids, pa.string()), "vector": column}, self._schema))
        self.count += len(vectors)

    def commit(self) -> dict:
        """Finish the files and move them into place; return the sidecar metadata."""
        sidecar = {
            "format": SIDECAR_FORMAT,
            "file": self.path.name,
            "count": self.count,
            "dim": self.dim,
            "dtype": "float32",
            "ids": ids_path(self.path).name if self._ids_tmp else None,
            **self.metadata,
        }
        if self._format == ".npy":
            self._data.seek(0)
            self._data.write(_npy_header(self.count, self.dim, self._header_len))
            self._data.close()
            if self._ids is not None:
                self._ids.close()
        else:
            self._data.close()
        sidecar_tmp = self._temp(sidecar_path(self.path))
        sidecar_tmp.write_text(json.dumps(sidecar, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        if self._ids_tmp:
            os.replace(self._ids_tmp, ids_path(self.path))
        else:
            ids_path(self.path).unlink(missing_ok=True)  # a stale ids file would not match the new rows
        os.replace(self._data_tmp, self.path)
        os.replace(sidecar_tmp, sidecar_path(self.path))
        self._temps.clear()
        self.sidecar = sidecar
        return sidecar

    def abort(self) -> None:
        """Close and delete the temporary files; the output paths are left as they were."""
        for handle in (getattr(self, "_data", None), getattr(self, "_ids", None)):
            try:
                if handle is not None:
                    handle.close()
            except Exception:
                pass
        for tmp in self._temps:
            tmp.unlink(missing_ok=True)
        self._temps.clear()

    def __enter__(self) -> VectorWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def write_vectors(
    path: str | Path, vectors: np.ndarray, ids: Sequence[str] | None = None, metadata: dict | None = None
) -> dict:
    """Write a whole (n, dim) matrix atomically; returns the sidecar metadata."""
    vectors = np.asarray(vectors, dtype=np.float32)
    with VectorWriter(path, vectors.shape[1], with_ids=ids is not None, metadata=metadata) as writer:
        writer.write(vectors, None if ids is None else [str(i) for i in ids])
    return writer.sidecar


def read_vectors(path: str | Path) -> tuple[np.ndarray, list[str] | None]:
    """Read a vector file written by emberta, or a folder of parquet shards with its FOLDER.json sidecar (as
    `emberta encode --engine ray` writes): (float32 (n, dim) matrix, ids or None). A file that is truncated,
    not 2-D, not of a float dtype, holds NaN or infinite values, or disagrees with its sidecar or ids file is an
    InputError naming the file."""
    path = Path(path)
    if path.is_dir():
        return _read_shards(path)
    if not path.is_file():
        raise InputError("no such vector file", path=path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        vectors = _read_npy(path)
        ids = _read_ids(ids_path(path), len(vectors)) if ids_path(path).is_file() else None
    elif suffix == ".parquet":
        vectors, ids = _read_parquet(path)
    else:
        raise InputError(f"unsupported vector format {path.suffix!r}; use .npy or .parquet", path=path)
    _check_finite(vectors, path)
    if sidecar_path(path).is_file():
        _check_sidecar(sidecar_path(path), vectors.shape)
    return vectors, ids


def _read_shards(folder: Path) -> tuple[np.ndarray, list[str]]:
    """A folder of parquet shards (as `emberta encode --engine ray` writes), read in the order its sidecar
    FOLDER.json lists them. The sidecar is written last, so a folder without one is an unfinished job."""
    if not sidecar_path(folder).is_file():
        raise InputError(
            f"a folder of vector shards needs its sidecar {sidecar_path(folder).name} beside it, written when the job "
            "finishes; finish the job (emberta encode ... --engine ray --resume) or give a vector file",
            path=folder,
        )
    sidecar = read_json_file(sidecar_path(folder))
    shards = sidecar.get("shards") if isinstance(sidecar, dict) else None
    if not isinstance(shards, list) or not all(isinstance(s, dict) and isinstance(s.get("file"), str) for s in shards):
        raise InputError("expected a 'shards' list of {file, count} objects", path=sidecar_path(folder))
    parts, ids = [], []
    for shard in shards:
        file = folder / Path(shard["file"]).name
        if not file.is_file():
            raise InputError(f"shard {shard['file']} is missing; encode the input again", path=folder)
        vectors, shard_ids = _read_parquet(file)
        if shard.get("count") is not None and shard["count"] != len(vectors):
            raise InputError(f"holds {len(vectors)} rows, the sidecar says {shard['count']}; encode again", path=file)
        if parts and vectors.shape[1] != parts[0].shape[1]:
            raise InputError(f"vectors of dim {vectors.shape[1]}, the first shard's are {parts[0].shape[1]}", path=file)
        _check_finite(vectors, file)
        parts.append(vectors)
        ids += shard_ids
    if not parts:
        raise InputError("the sidecar lists no shards", path=sidecar_path(folder))
    vectors = np.concatenate(parts) if len(parts) > 1 else parts[0]
    _check_sidecar(sidecar_path(folder), vectors.shape)
    return vectors, ids


def _read_npy(path: Path) -> np.ndarray:
    """The float32 matrix of a .npy file, its header checked against the file size before any data is read."""
    fmt = np.lib.format
    rewrite = "write it again (emberta.write_vectors or emberta encode)"
    try:
        with open(path, "rb") as handle:
            version = fmt.read_magic(handle)
            read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, fortran, dtype = read_header(handle)
            offset = handle.tell()
    except Exception as exc:  # numpy's header parser raises ValueError, SyntaxError, tokenize.TokenError, ...
        raise InputError(f"not a .npy file ({' '.join(str(exc).split())}); {rewrite}", path=path) from None
    if len(shape) != 2 or shape[1] < 1 or dtype.kind != "f":
        raise InputError(
            f"holds a {dtype} array of shape {shape}; expected a 2-D float32 (rows, dim) matrix; {rewrite}", path=path
        )
    expected = shape[0] * shape[1] * dtype.itemsize
    found = path.stat().st_size - offset
    if found != expected:
        raise InputError(
            f"truncated or padded: its header says {shape[0]} x {shape[1]} {dtype} ({expected} bytes of data), the "
            f"file holds {found}; {rewrite}",
            path=path,
        )
    with open(path, "rb") as handle:
        handle.seek(offset)
        data = np.fromfile(handle, dtype=dtype, count=shape[0] * shape[1])
    return np.ascontiguousarray(data.reshape(shape, order="F" if fortran else "C"), dtype=np.float32)


def _read_parquet(path: Path) -> tuple[np.ndarray, list[str]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"not a readable parquet file ({' '.join(str(exc).split())})", path=path) from None
    expected = "expected an 'id' string column and a 'vector' column of fixed-size float lists (as emberta writes)"
    if "vector" not in table.column_names or "id" not in table.column_names:
        raise InputError(f"columns {table.column_names}; {expected}", path=path)
    column = table.column("vector").combine_chunks()
    kind = column.type
    if not pa.types.is_fixed_size_list(kind) or not pa.types.is_floating(kind.value_type) or kind.list_size < 1:
        raise InputError(f"column 'vector' holds {kind}; {expected}", path=path)
    if column.null_count or column.flatten().null_count or len(column.flatten()) != len(column) * kind.list_size:
        raise InputError("column 'vector' has missing values (nulls); write the file again", path=path)
    ids = table.column("id")
    if ids.null_count:
        raise InputError("column 'id' has missing values (nulls); write the file again", path=path)
    try:
        row_ids = [str(i) for i in ids.to_pylist()]
    except (pa.ArrowException, ValueError) as exc:  # e.g. strings that are not UTF-8 (UnicodeDecodeError)
        raise InputError(f"column 'id' cannot be read ({' '.join(str(exc).split())})", path=path) from None
    vectors = np.asarray(column.flatten().to_numpy(zero_copy_only=False), dtype=np.float32)
    return vectors.reshape(-1, kind.list_size), row_ids


def _read_ids(file: Path, rows: int) -> list[str]:
    """The ids file of a .npy: one JSON string per line, one line per row."""
    try:
        lines = file.read_text(encoding="utf-8").split("\n")  # not splitlines(): ids may hold U+2028, U+0085
        lines = lines[:-1] if lines[-1] == "" else lines
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the ids ({exc})", path=file) from None
    ids = []
    for number, line in enumerate(lines, start=1):
        value = parse_json(line, path=file, line=number, hint="; each line must be one id, a JSON string")
        if not isinstance(value, str):
            raise InputError(f"an id must be a JSON string, got {type(value).__name__}", path=file, line=number)
        ids.append(value)
    if len(ids) != rows:
        raise InputError(
            f"{len(ids)} ids for {rows} vectors; the ids file belongs to another vector file, write both again",
            path=file,
        )
    return ids


def _check_sidecar(file: Path, shape: tuple) -> None:
    """The OUT.json sidecar, when there is one, must be a JSON object whose count and dim match the vectors."""
    sidecar = read_json_file(file)
    if not isinstance(sidecar, dict):
        raise InputError("expected a JSON object (the vector file's metadata)", path=file)
    for key, found in (("count", shape[0]), ("dim", shape[1])):
        value = sidecar.get(key)
        if value is not None and value != found:
            raise InputError(
                f"{key} is {value!r} but the vector file holds {shape[0]} x {shape[1]}; the sidecar belongs to "
                "another vector file: write both again (or delete the sidecar)",
                path=file,
            )


def _check_finite(vectors: np.ndarray, path: Path, block: int = 65536) -> None:
    for start in range(0, len(vectors), block):
        bad = ~np.isfinite(vectors[start : start + block]).all(axis=1)
        if bad.any():
            row = start + int(np.argmax(bad))
            raise InputError(f"row {row} holds NaN or infinite values; encode the texts again", path=path)


def _npy_header(rows: int, dim: int, total: int | None = None) -> bytes:
    """A version 1.0 .npy header for a C-order float32 (rows, dim) array, padded to `total` bytes."""
    prefix = np.lib.format.magic(1, 0)
    body = f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {dim}), }}"
    fixed = len(prefix) + 2 + len(body) + 1  # + uint16 length, + final newline
    if total is None:
        total = -(-fixed // 64) * 64
    padded = body + " " * (total - fixed) + "\n"
    return prefix + len(padded).to_bytes(2, "little") + padded.encode("latin1")
