"""Prometheus text-format metrics of the server: requests by path and status, request latency and batch size
histograms, queue depth."""

from __future__ import annotations

import bisect
import threading
from collections import Counter

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class Histogram:
    def __init__(self, buckets: tuple):
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.total = 0.0
        self.n = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.n += 1

    def lines(self, name: str) -> list[str]:
        out, running = [], 0
        for bound, count in zip(self.buckets, self.counts, strict=False):
            running += count
            out.append(f'{name}_bucket{{le="{bound}"}} {running}')
        out += [f'{name}_bucket{{le="+Inf"}} {self.n}', f"{name}_sum {self.total:.6f}", f"{name}_count {self.n}"]
        return out


class Metrics:
    def __init__(self):
        self.requests: Counter = Counter()
        self.latency = Histogram(LATENCY_BUCKETS)
        self.batch_size = Histogram(BATCH_BUCKETS)
        self._lock = threading.Lock()

    def request(self, path: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(path, status)] += 1
            self.latency.observe(seconds)

    def batches(self, sizes: list[int]) -> None:
        with self._lock:
            for size in sizes:
                self.batch_size.observe(size)

    def render(self, queue_depth: int) -> str:
        with self._lock:
            lines = ["# HELP emberta_requests_total HTTP requests by path and status.",
                     "# TYPE emberta_requests_total counter"]  # fmt: skip
            for (path, status), count in sorted(self.requests.items()):
                lines.append(f'emberta_requests_total{{path="{path}",status="{status}"}} {count}')
            lines += ["# HELP emberta_request_seconds Request latency.", "# TYPE emberta_request_seconds histogram"]
            lines += self.latency.lines("emberta_request_seconds")
            lines += ["# HELP emberta_batch_size Texts per model call.", "# TYPE emberta_batch_size histogram"]
            lines += self.batch_size.lines("emberta_batch_size")
            lines += ["# HELP emberta_queue_depth Texts waiting to be encoded.", "# TYPE emberta_queue_depth gauge",
                      f"emberta_queue_depth {queue_depth}"]  # fmt: skip
        return "\n".join(lines) + "\n"
