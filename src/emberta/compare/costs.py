"""Cost figures of a model on this machine, measured in a fresh Python process (probe.py): time to the first
vector from process start, texts per second while encoding a sample of the evaluated tasks' texts, peak memory,
parameters, dimension and bytes per vector. The parent only times the probe's first line and reads its JSON."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from emberta.compare.probe import FIRST_VECTOR
from emberta.errors import ModelError

SAMPLE_TEXTS = 512
MIN_SECONDS = 2.0
MAX_ROUNDS = 20
TIMEOUT_SECONDS = 1800


def measure_costs(spec: str, options: dict, texts: list[str], *, batch_size: int = 32,
                  min_seconds: float = MIN_SECONDS, max_rounds: int = MAX_ROUNDS) -> dict:  # fmt: skip
    """Measure `spec` (with load_encoder `options`) in a fresh process on `texts`. Returns the probe's figures
    plus first_vector_seconds (process start to first vector, as the parent sees it). The model must load (the
    caller has loaded it once, so exports made on first use are already cached). ModelError when the probe
    fails, with the end of its error output."""
    request = {"spec": str(spec), "options": options, "texts": texts, "batch_size": batch_size,
               "min_seconds": min_seconds, "max_rounds": max_rounds}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="emberta-probe-") as tmp:
        request_file, log_file = Path(tmp) / "request.json", Path(tmp) / "stderr.txt"
        request_file.write_text(json.dumps(request), encoding="utf-8")
        with open(log_file, "w", encoding="utf-8") as log:
            start = time.perf_counter()
            child = subprocess.Popen([sys.executable, "-m", "emberta.compare.probe", str(request_file)],
                                     stdout=subprocess.PIPE, stderr=log, text=True, env=_child_env())  # fmt: skip
            deadline = threading.Timer(TIMEOUT_SECONDS, child.kill)  # a hung probe must not hang the comparison
            deadline.start()
            try:
                first = _time_first_vector(child, start)
                lines = child.stdout.read().strip().splitlines()
                child.wait()
            finally:
                deadline.cancel()
                if child.poll() is None:
                    child.kill()
                    child.wait()
        if child.returncode != 0 or first is None or not lines:
            tail = log_file.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
            raise ModelError(f"measuring the costs of model {spec!r} failed: {' | '.join(tail) or 'no output'}")
    return {"first_vector_seconds": first, **json.loads(lines[-1])}


def _time_first_vector(child: subprocess.Popen, start: float) -> float | None:
    """Seconds from `start` until the probe says it has its first vector (None if it ends first)."""
    for line in child.stdout:
        if line.strip() == FIRST_VECTOR:
            return time.perf_counter() - start
    return None


def sample_texts(texts: list[list[str]], n: int = SAMPLE_TEXTS, seed: int = 0) -> list[str]:
    """A fixed sample of n texts drawn evenly from each group (one group per task), seeded: the same texts for
    every model of a comparison."""
    groups = [list(dict.fromkeys(t for t in group if t.strip())) for group in texts]
    groups = [g for g in groups if g]
    if not groups:
        return []
    share = max(1, n // len(groups))
    rng = random.Random(seed)
    picked = []
    for group in groups:
        picked += rng.sample(group, min(share, len(group)))
    return picked[:n]


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env
