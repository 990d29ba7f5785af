"""`emberta encode --engine ray`: encode a file, a glob or a folder of shards on a Ray cluster into a folder of
parquet shards plus emberta's sidecar, with the vectors a local `emberta encode` gives, resumable.

What runs where: the driver (this process) expands the inputs, loads the model once for its fingerprint, plans
pieces and writes the shards and sidecar; Ray tasks count and read the input files; Ray actors (one per
worker, each with the model loaded once) encode. Input files must be readable by every node at the same path,
and the output folder is written by the driver only.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from emberta.errors import OptionError
from emberta.io.jsontext import read_json_file
from emberta.scale.inputs import DEFAULT_SHARD_ROWS, Piece, ReaderArgs, count_records, expand_inputs, plan_pieces
from emberta.scale.ray_encode import EncodeSpec, ShardCollector, pieces_dataset, run_pipeline, user_error
from emberta.scale.runtime import check_address, ray_session
from emberta.scale.shards import JOB_FILE, check_out_folder, done_shards, finish_job, start_job


@dataclass(frozen=True)
class RayEncodeReport:
    """What `encode_on_ray` did: rows in the output, shards written now and found from an earlier run, vector
    width, texts truncated, rows that arrived twice (kept once), seconds to the first vector and in all."""

    count: int
    shards_written: int
    shards_resumed: int
    dim: int
    long_texts: int
    duplicates: int
    first_vector_s: float | None
    seconds: float
    sidecar: dict


def encode_on_ray(
    inputs: str | Path,
    out: str | Path,
    *,
    model: str = "default",
    encoder_options: dict | None = None,
    reader: ReaderArgs | None = None,
    prompt: str | None = None,
    prompt_name: str | None = None,
    batch_size: int = 32,
    workers: int = 1,
    address: str | None = None,
    resume: bool = False,
    shard_rows: int = DEFAULT_SHARD_ROWS,
    on_progress: Callable[[int], None] | None = None,
) -> RayEncodeReport:
    """Encode every record of `inputs` (a file, a glob or a folder of input files) into the folder `out`.

    model and encoder_options: as load_encoder (threads = CPUs per worker, default 1). workers: actors encoding
    at once. address: a Ray cluster ("HOST:PORT" of `ray start --head`, ray://HOST:10001, "auto"); None starts Ray
    on this machine. resume: finish a killed or failed job from the shards already written. shard_rows: records
    per output shard. on_progress(k) is called as each k rows arrive from the workers.
    """
    start = time.perf_counter()
    from emberta.encoders import load_encoder

    out, reader = Path(out), reader or ReaderArgs()
    if workers < 1 or shard_rows < 1:
        raise OptionError("--workers and --shard-rows must be at least 1")
    files = expand_inputs(inputs)
    check_out_folder(out, resume=resume)
    if address is not None:
        check_address(address)  # before the model loads: an unreachable cluster is reported within seconds
    options = dict(encoder_options or {})
    cpus = float(options.setdefault("threads", 1))
    encoder = load_encoder(model, **options)
    resolved_prompt = encoder.resolve_prompt(prompt, prompt_name)
    spec = EncodeSpec(str(model), options, resolved_prompt, batch_size, encoder.fingerprint)
    labels = _labels(files) if len(files) > 1 and reader.id_field is None else [None] * len(files)
    with ray_session(address) as ray:
        job = _plan_job(ray, out, files, reader, spec, shard_rows, resume)
        pieces = [Piece(**p) for p in job["pieces"]]
        done = done_shards(out, pieces)
        pending = [p for p in pieces if p.shard not in done]
        arrivals = _Arrivals(start, on_progress)
        collector = ShardCollector(out, pending, encoder.dim)
        if pending:
            dataset = pieces_dataset(ray, files, labels, reader, pending)
            run_pipeline(ray, dataset, spec, workers, cpus, collector, arrivals)
    metadata = _sidecar_metadata(encoder, resolved_prompt, str(inputs), reader, workers)
    sidecar = finish_job(out, pieces, encoder.dim, metadata)
    return RayEncodeReport(sidecar["count"], collector.written, len(done), encoder.dim, collector.long_texts,
                           collector.duplicates, arrivals.first, time.perf_counter() - start, sidecar)  # fmt: skip


class _Arrivals:
    """Called with each k rows that arrive: notes the seconds from `start` to the first, passes k on."""

    def __init__(self, start: float, on_progress: Callable[[int], None] | None):
        self.start, self.on_progress, self.first = start, on_progress, None

    def __call__(self, rows: int) -> None:
        if self.first is None:
            self.first = time.perf_counter() - self.start
        if self.on_progress is not None:
            self.on_progress(rows)


def _plan_job(ray, out: Path, files: list[Path], reader: ReaderArgs, spec: EncodeSpec, shard_rows: int,
              resume: bool) -> dict:  # fmt: skip
    """The job file's content: inputs with their record counts (counted on the cluster, or taken from the job
    file when resuming the same inputs), pieces, fingerprint and options; written or checked in OUT."""
    inputs = [{"path": str(f.resolve()), "size": f.stat().st_size, "mtime_ns": f.stat().st_mtime_ns} for f in files]
    previous = read_json_file(out / JOB_FILE) if resume and (out / JOB_FILE).is_file() else None
    if previous is not None and previous.get("inputs") == inputs and previous.get("counts"):
        counts = previous["counts"]
    else:
        count = ray.remote(count_records)
        counts = _gather(ray, [count.remote(str(f), reader) for f in files])
    pieces = plan_pieces(counts, shard_rows)
    job = {"inputs": inputs, "counts": counts, "reader": reader.as_dict(), "model": spec.model,
           "fingerprint": spec.fingerprint, "prompt": spec.prompt, "shard_rows": shard_rows,
           "pieces": [asdict(p) for p in pieces]}  # fmt: skip
    return start_job(out, job, resume=resume)


def _gather(ray, refs: list) -> list:
    """ray.get, with an emberta error raised on a worker (a malformed line, file:line) re-raised as itself."""
    try:
        return ray.get(refs)
    except Exception as exc:
        cause = user_error(exc)
        if cause is not None:
            raise cause from None
        raise


def _labels(files: list[Path]) -> list[str]:
    """Each file's path relative to the files' common folder: the id prefix when several files have no ids."""
    root = Path(os.path.commonpath([str(f.resolve().parent) for f in files]))
    return [f.resolve().relative_to(root).as_posix() for f in files]


def _sidecar_metadata(encoder, prompt: str | None, source: str, reader: ReaderArgs, workers: int) -> dict:
    """The sidecar fields a local `emberta encode` writes, plus the engine."""
    return {
        "model": encoder.name,
        "model_path": str(encoder.folder.path),
        "backend": encoder.backend,
        "fingerprint": encoder.fingerprint,
        "options": encoder.vector_options(),
        "prompt": prompt,
        "source": source,
        "field": reader.field,
        "id_field": reader.id_field,
        "engine": {"name": "ray", "workers": workers},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
