"""The output folder of a scaled-out encode: parquet shards (id, vector), written atomically, a job file that
lets a killed job resume, and the sidecar OUT.json written last, when every shard is in place.

    OUT/_job.json                 the plan: inputs (size, mtime, records), pieces, model fingerprint, options
    OUT/part-00000-00000.parquet  rows [0, shard_rows) of input file 0, in input order
    OUT/...
    OUT.json                      emberta's vector sidecar (as beside a local OUT.parquet), with the shard list

`emberta.read_vectors(OUT)` reads the shards in order, as one matrix, once the sidecar is there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from emberta.errors import InputError, OptionError, OutputError
from emberta.io.atomic import temp_path_for, write_text_atomic
from emberta.io.jsontext import read_json_file
from emberta.io.vectors import SIDECAR_FORMAT, sidecar_path
from emberta.scale.inputs import Piece

JOB_FILE = "_job.json"


def check_out_folder(out: Path, *, resume: bool) -> None:
    """Before any work: the parent must exist; an existing OUT is an error unless resuming, and resuming needs
    a folder this command started (one with OUT/_job.json)."""
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"--out {out}: folder {parent} does not exist; create it first (mkdir -p {parent})")
    if out.suffix.lower() == ".npy":
        raise OptionError(f"--out {out}: --engine ray writes a folder of parquet shards; give a folder name")
    if out.exists() and not resume:
        raise OutputError(f"--out {out} already exists; pass --resume to finish the job that wrote it, or choose "
                          "another --out")  # fmt: skip
    if resume and out.exists() and not (out / JOB_FILE).is_file():
        raise OutputError(f"--out {out} was not written by `emberta encode --engine ray` (no {JOB_FILE}); "
                          "choose another --out")  # fmt: skip


def start_job(out: Path, job: dict, *, resume: bool) -> dict:
    """Create OUT with its job file, or (resume) check that the job file there describes the same job: the same
    inputs (size and modification time), model fingerprint, options and pieces. Returns the job in force."""
    if resume and (out / JOB_FILE).is_file():
        found = read_json_file(out / JOB_FILE)
        if found.get("inputs") != job["inputs"]:
            raise OptionError(f"--resume: the input files changed (names, sizes or modification times) since the "
                              f"job in {out} started; start afresh with another --out")  # fmt: skip
        for key in ("reader", "fingerprint", "prompt", "shard_rows"):
            if found.get(key) != job.get(key):
                raise OptionError(
                    f"--resume: {out} holds a job with another {key} ({found.get(key)!r}, now {job.get(key)!r}); "
                    "run with the same input, model and options, or start afresh with another --out"
                )
        return found
    out.mkdir(exist_ok=resume)
    write_text_atomic(out / JOB_FILE, json.dumps(job, indent=2, ensure_ascii=False) + "\n")
    return job


def done_shards(out: Path, pieces: list[Piece]) -> set[str]:
    """Shards already in OUT whose row count is the piece's (any other is rewritten)."""
    import pyarrow.parquet as pq

    done = set()
    for piece in pieces:
        path = out / piece.shard
        if path.is_file():
            try:
                if pq.ParquetFile(path).metadata.num_rows == piece.rows:
                    done.add(piece.shard)
            except Exception:
                continue
    return done


def write_shard(path: Path, ids: list[str], vectors: np.ndarray) -> None:
    """Write one shard (id string column, vector fixed-size float32 list column, as io.vectors writes parquet)
    through a temporary file renamed into place: a killed job never leaves half a shard."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = vectors.shape[1]
    schema = pa.schema([("id", pa.string()), ("vector", pa.list_(pa.float32(), dim))])
    column = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), dim)
    table = pa.table({"id": pa.array(ids, pa.string()), "vector": column}, schema)
    tmp = temp_path_for(path)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def finish_job(out: Path, pieces: list[Piece], dim: int, metadata: dict) -> dict:
    """Write the sidecar OUT.json (count, dim, the shard list and `metadata`) once every shard is in place."""
    missing = sorted(set(p.shard for p in pieces) - done_shards(out, pieces))
    if missing:
        raise InputError(f"{len(missing)} shards are missing or incomplete (first {missing[0]}); run again with "
                         "--resume", path=out)  # fmt: skip
    sidecar = {
        "format": SIDECAR_FORMAT,
        "file": out.name,
        "count": sum(p.rows for p in pieces),
        "dim": int(dim),
        "dtype": "float32",
        "ids": None,
        "shards": [{"file": p.shard, "count": p.rows} for p in pieces],
        **metadata,
    }
    write_text_atomic(sidecar_path(out), json.dumps(sidecar, indent=2, ensure_ascii=False) + "\n")
    return sidecar
