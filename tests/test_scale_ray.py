"""Encode and evaluate on Ray (emberta.scale): a local two-node Ray cluster started with `ray start` (loopback,
no dashboard, no usage statistics) encodes a sharded corpus; the output is compared with a local run of
emberta's own encode_file on each input file, row by row. A worker killed mid-job, a driver killed mid-job and
bad input are checked too."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("ray")

from emberta.cli.main import app
from emberta.embed_file import encode_file
from emberta.encoders import load_encoder
from emberta.errors import InputError, OptionError, OutputError
from emberta.io.readers import TextReader
from emberta.io.vectors import read_vectors
from emberta.scale import ReaderArgs, encode_on_ray

runner = CliRunner()
WORDS = ["alpha", "beta", "gamma", "delta", "fox", "dog", "guitar", "street", "vector", "river", "book", "query"]
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ray(*args: str, env: dict) -> None:
    ray_cli = Path(sys.executable).with_name("ray")
    subprocess.run([str(ray_cli), *args], env=env, check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def cluster():
    """A head node and one worker node on 127.0.0.1, one CPU each; yields the head's address."""
    saved = {k: os.environ.get(k) for k in RAY_ENV}
    os.environ.update(RAY_ENV)
    env = dict(os.environ)
    temp = tempfile.mkdtemp(prefix="er", dir="/tmp")  # Ray's socket paths must stay short
    port = _free_port()
    address = f"127.0.0.1:{port}"
    common = ["--num-cpus=1", "--disable-usage-stats"]
    try:
        _ray("start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--include-dashboard=false",
             f"--temp-dir={temp}", *common, env=env)  # fmt: skip
        _ray("start", f"--address={address}", "--node-ip-address=127.0.0.1", *common, env=env)
        yield address
    finally:
        subprocess.run([str(Path(sys.executable).with_name("ray")), "stop", "--force"], env=env, capture_output=True)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Three jsonl shards of 90, 70 and 80 records (id, text), some texts repeated."""
    folder = tmp_path_factory.mktemp("corpus")
    rng = random.Random(7)
    for number, rows in enumerate((90, 70, 80)):
        with open(folder / f"shard-{number}.jsonl", "w", encoding="utf-8") as handle:
            for row in range(rows):
                text = " ".join(rng.choices(WORDS, k=rng.randint(2, 12)))
                handle.write(json.dumps({"id": f"d{number}-{row}", "text": text}) + "\n")
    return folder


def _local(model: Path, files: list[Path], tmp: Path, id_field: str | None = "id") -> tuple[np.ndarray, list[str]]:
    """The reference: emberta's local encode_file on each input file, in order."""
    encoder = load_encoder(str(model))
    parts, ids = [], []
    for number, file in enumerate(files):
        out = tmp / f"local-{number}.parquet"
        encode_file(encoder, TextReader(file, id_field=id_field), str(out))
        vectors, file_ids = read_vectors(out)
        parts.append(vectors)
        ids += file_ids if id_field else [f"{file.name}:{i}" for i in file_ids]
    return np.concatenate(parts), ids


def _same(found: tuple[np.ndarray, list[str]], expected: tuple[np.ndarray, list[str]]) -> None:
    vectors, ids = found
    assert ids == expected[1]
    assert vectors.shape == expected[0].shape and vectors.dtype == np.float32
    cosine = np.sum(vectors * expected[0], axis=1) / (
        np.linalg.norm(vectors, axis=1) * np.linalg.norm(expected[0], axis=1)
    )
    assert np.all(cosine > 0.99999)
    np.testing.assert_allclose(vectors, expected[0], atol=1e-5)


def test_ray_output_equals_local(cluster, corpus, tiny_models, tmp_path):
    model = tiny_models["bert-st"]
    out = tmp_path / "vectors"
    report = encode_on_ray(corpus, out, model=str(model), reader=ReaderArgs(id_field="id"), workers=2,
                           address=cluster, shard_rows=40)  # fmt: skip
    files = sorted(corpus.glob("*.jsonl"))
    expected = _local(model, files, tmp_path)
    _same(read_vectors(out), expected)
    assert report.count == 240 and report.shards_written == 7 and report.shards_resumed == 0
    sidecar = json.loads((tmp_path / "vectors.json").read_text())
    assert sidecar["fingerprint"] == load_encoder(str(model)).fingerprint and sidecar["count"] == 240
    # each shard holds one input file's rows [40k, 40k + 40), in order
    first = read_vectors_shard(out / "part-00001-00001.parquet")
    assert first == [f"d1-{row}" for row in range(40, 70)]


def read_vectors_shard(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    return [str(i) for i in pq.read_table(path).column("id").to_pylist()]


@pytest.mark.slow  # one more Ray job (the CLI's success path is also run by the resume test)
def test_txt_glob_ids_name_the_file(cluster, tmp_path, tiny_models):
    for number in range(2):
        (tmp_path / f"t{number}.txt").write_text("\n".join(f"text {number} {i} fox" for i in range(12)) + "\n")
    args = ["encode", str(tmp_path / "t*.txt"), "--out", str(tmp_path / "out"), "--engine", "ray", "--ray-address",
            cluster, "--model", str(tiny_models["roberta-st"])]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    expected = _local(tiny_models["roberta-st"], sorted(tmp_path.glob("t*.txt")), tmp_path, id_field=None)
    _same(read_vectors(tmp_path / "out"), expected)


def test_worker_killed_mid_job_every_row_once(cluster, corpus, tiny_models, tmp_path, monkeypatch):
    import psutil

    import emberta.scale.ray_encode as ray_encode

    monkeypatch.setattr(ray_encode, "ROWS_PER_BATCH", 8)  # many small batches: the job is still running
    killed: list[int] = []

    def kill_a_worker(rows: int) -> None:
        if killed:
            return
        for proc in psutil.process_iter(["pid", "cmdline"]):
            if "MapWorker" in " ".join(proc.info["cmdline"] or []):
                os.kill(proc.info["pid"], signal.SIGKILL)
                killed.append(proc.info["pid"])
                return

    out = tmp_path / "vectors"
    report = encode_on_ray(corpus, out, model=str(tiny_models["bert-st"]), reader=ReaderArgs(id_field="id"),
                           workers=2, address=cluster, shard_rows=30, on_progress=kill_a_worker)  # fmt: skip
    assert killed, "no Ray Data worker process was found to kill"
    vectors, ids = read_vectors(out)
    assert len(ids) == len(set(ids)) == 240 and report.count == 240
    _same((vectors, ids), _local(tiny_models["bert-st"], sorted(corpus.glob("*.jsonl")), tmp_path))


def test_resume_after_the_driver_is_killed(cluster, corpus, tiny_models, tmp_path):
    out = tmp_path / "vectors"
    command = [sys.executable, "-m", "emberta.cli.main", "encode", str(corpus), "--out", str(out), "--id-field", "id",
               "--engine", "ray", "--ray-address", cluster, "--model", str(tiny_models["bert-st"]),
               "--shard-rows", "10", "--batch-size", "4", "--quiet"]  # fmt: skip
    driver = subprocess.Popen(command, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while not list(out.glob("part-*.parquet")) and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert driver.poll() is None, driver.communicate()[1].decode()
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    written = len(list(out.glob("part-*.parquet")))
    # usually a few of the 24 shards; a busy machine may let the driver write them all before the kill lands,
    # and then the resume has only the sidecar left to write
    assert 0 < written <= 24 and not (tmp_path / "vectors.json").exists()
    with pytest.raises(InputError, match="--resume"):
        read_vectors(out)  # an unfinished job is not read as if it were complete
    with pytest.raises(OutputError, match="--resume"):
        encode_on_ray(corpus, out, model=str(tiny_models["bert-st"]), address=cluster)
    report = encode_on_ray(corpus, out, model=str(tiny_models["bert-st"]), reader=ReaderArgs(id_field="id"),
                           address=cluster, shard_rows=10, resume=True)  # fmt: skip
    assert report.shards_resumed >= written and report.shards_resumed + report.shards_written == 24
    _same(read_vectors(out), _local(tiny_models["bert-st"], sorted(corpus.glob("*.jsonl")), tmp_path))
    assert not list(out.glob(".*.tmp"))
    with pytest.raises(OptionError, match="fingerprint"):  # resuming with another model is refused
        encode_on_ray(corpus, out, model=str(tiny_models["roberta-st"]), reader=ReaderArgs(id_field="id"),
                      address=cluster, shard_rows=10, resume=True)  # fmt: skip


def test_eval_on_ray_scores_equal_local(cluster, tiny_models, tmp_path):
    from emberta.cache import EmbeddingStore
    from emberta.evaluation import evaluate
    from emberta.scale import RayEncoder
    from emberta.tasks.registry import select_tasks

    rng = random.Random(3)
    with open(tmp_path / "sts.jsonl", "w", encoding="utf-8") as handle:
        for _ in range(60):
            pair = [" ".join(rng.choices(WORDS, k=rng.randint(2, 9))) for _ in range(2)]
            handle.write(json.dumps({"sentence1": pair[0], "sentence2": pair[1], "score": rng.uniform(0, 5)}) + "\n")
    specs = select_tasks(task_type="sts", file=tmp_path / "sts.jsonl", name="tiny-sts")
    model = str(tiny_models["roberta-st"])
    encoder = load_encoder(model)
    local = evaluate(encoder, specs, cache=False)
    store = EmbeddingStore(None)
    with RayEncoder.start(encoder, model, {}, workers=2, address=cluster) as remote:
        on_ray = evaluate(encoder, specs, cache=store, engine=remote)
        encoded = store.encoded
        evaluate(encoder, specs, cache=store, engine=remote)  # every text is cached now: nothing goes to Ray
    assert encoded > 0 and store.encoded == encoded
    found, expected = on_ray[0].subsets[0].metrics, local[0].subsets[0].metrics
    assert found.keys() == expected.keys()
    for key, value in expected.items():
        assert found[key] == pytest.approx(value, abs=1e-9), key


def test_unreachable_address_is_a_clear_error(tmp_path):
    (tmp_path / "in.txt").write_text("a text\n")
    address = f"127.0.0.1:{_free_port()}"
    result = runner.invoke(app, ["encode", str(tmp_path / "in.txt"), "--out", str(tmp_path / "out"), "--engine", "ray",
                                 "--ray-address", address])  # fmt: skip
    assert result.exit_code == 2
    assert f"--ray-address {address}: no Ray cluster answers" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()


def test_bad_input_and_options(tmp_path):
    (tmp_path / "in.txt").write_text("a text\n")
    (tmp_path / "empty").mkdir()
    cases = [
        (["encode", str(tmp_path / "missing-*.jsonl"), "--out", str(tmp_path / "o1"), "--engine", "ray"],
         "no file matches"),
        (["encode", str(tmp_path / "empty"), "--out", str(tmp_path / "o2"), "--engine", "ray"], "no input files"),
        (["encode", str(tmp_path / "in.txt"), "--out", str(tmp_path / "empty"), "--engine", "ray"], "already exists"),
        (["encode", str(tmp_path / "in.txt"), "--out", str(tmp_path / "o.npy"), "--engine", "ray"], "folder"),
        (["encode", str(tmp_path / "in.txt"), "--out", str(tmp_path / "o3"), "--engine", "spark"], "--engine"),
        (["encode", str(tmp_path / "in.txt"), "--out", str(tmp_path / "empty"), "--engine", "ray", "--resume"],
         "not written by"),
        (["encode", str(tmp_path / "in.txt"), "--out", str(tmp_path / "no" / "o5"), "--engine", "ray"],
         "does not exist"),
        (["eval", "--tasks", "STSBenchmark", "--ray-address", "127.0.0.1:1"], "--engine ray"),
    ]  # fmt: skip
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and message in result.output, (args, result.output)


def test_without_ray_the_extra_is_named(tmp_path, monkeypatch):
    (tmp_path / "in.txt").write_text("a text\n")
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    result = runner.invoke(app, ["encode", str(tmp_path / "in.txt"), "--out", str(tmp_path / "out"), "--engine",
                                 "ray"])  # fmt: skip
    assert result.exit_code == 2 and "emberta[ray]" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_unfinished_or_damaged_shard_folders_are_refused(tmp_path):
    from emberta.scale.shards import write_shard

    folder = tmp_path / "v"
    folder.mkdir()
    write_shard(folder / "part-00000-00000.parquet", ["a", "b"], np.ones((2, 3), np.float32))
    with pytest.raises(InputError, match="sidecar"):
        read_vectors(folder)
    sidecar = {"count": 3, "dim": 3, "shards": [{"file": "part-00000-00000.parquet", "count": 3}]}
    (tmp_path / "v.json").write_text(json.dumps(sidecar))
    with pytest.raises(InputError, match="holds 2 rows"):
        read_vectors(folder)
    sidecar["shards"][0]["count"], sidecar["count"] = 2, 2
    (tmp_path / "v.json").write_text(json.dumps(sidecar))
    vectors, ids = read_vectors(folder)
    assert ids == ["a", "b"] and vectors.shape == (2, 3)
