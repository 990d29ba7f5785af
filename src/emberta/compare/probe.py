"""The cost probe, run as `python -m emberta.compare.probe REQUEST.json` in a fresh process (costs.py starts
it): load the model, encode one text, write "first-vector" on stdout at once (the parent times the line), then
encode the sample texts in rounds and print one JSON line of measurements.

A fresh process makes the figures the model's own: its imports (torch, or only onnxruntime / numpy), its load
and its peak memory (the process's VmHWM, which counts nothing of the parent)."""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

FIRST_VECTOR = "first-vector"


def measure(request: dict) -> dict:
    """Load, first vector, then throughput over request["texts"] in rounds until request["min_seconds"] have
    passed (at least one round, at most request["max_rounds"])."""
    start = time.perf_counter()
    from emberta.encoders import load_encoder

    encoder = load_encoder(request["spec"], **request["options"])
    loaded = time.perf_counter()
    encoder.encode(request["texts"][:1], show_progress=False)
    first = time.perf_counter()
    print(FIRST_VECTOR, flush=True)
    texts, batch_size = request["texts"], request["batch_size"]
    rounds, elapsed = 0, 0.0
    while rounds < 1 or (elapsed < request["min_seconds"] and rounds < request["max_rounds"]):
        began = time.perf_counter()
        encoder.encode(texts, batch_size=batch_size, show_progress=False)
        elapsed += time.perf_counter() - began
        rounds += 1
    details = encoder.describe()
    return {
        "load_seconds": loaded - start,
        "first_encode_seconds": first - loaded,
        "texts_per_second": rounds * len(texts) / elapsed if elapsed > 0 else None,
        "texts_measured": rounds * len(texts),
        "rounds": rounds,
        "batch_size": batch_size,
        "peak_memory_bytes": peak_memory_bytes(),
        "parameters": details.get("parameters"),
        "dim": encoder.dim,
        "bytes_per_vector": encoder.dim * 4,  # float32 vectors, whatever the weights' precision
        "model_bytes": folder_bytes(Path(encoder.folder.path)),
        "backend": encoder.backend,
    }


def peak_memory_bytes() -> int | None:
    """The process's peak resident memory: VmHWM on Linux (per address space, so not the parent's, as ru_maxrss
    can be after fork and exec), ru_maxrss elsewhere."""
    from emberta.machine import proc_kib  # after the timed rounds: no import inside the measured time

    peak = proc_kib("/proc/self/status", "VmHWM")
    if peak is not None:
        return peak
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def folder_bytes(folder: Path) -> int:
    """Bytes of the model's files (hidden files and READMEs left out)."""
    files = [f for f in folder.rglob("*") if f.is_file() and not f.name.startswith(".") and f.suffix != ".md"]
    return sum(f.stat().st_size for f in files)


def main() -> None:
    warnings.simplefilter("ignore")
    request = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    print(json.dumps(measure(request)), flush=True)


if __name__ == "__main__":
    main()
