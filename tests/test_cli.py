"""The command line: outputs equal the Python API's; every bad input exits 2 with one line and no output."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

import emberta
from emberta.cli.main import app

runner = CliRunner()
TEXTS = ["first text", "", "a third, longer text about foxes and dogs"]


def run(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input)


@pytest.fixture
def jsonl(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(TEXTS)))
    return path


def test_help_groups_commands_by_stage():
    result = run("--help")
    assert result.exit_code == 0
    assert "Encode" in result.output
    for command in ("encode", "similarity", "info"):
        assert command in result.output


def test_encode_npy_equals_api(tiny_models, jsonl, tmp_path):
    out = tmp_path / "v.npy"
    result = run("encode", jsonl, "--model", tiny_models["bert-st"], "--out", out, "--id-field", "id")
    assert result.exit_code == 0, result.output
    vectors, ids = emberta.read_vectors(out)
    np.testing.assert_allclose(vectors, emberta.load_encoder(tiny_models["bert-st"]).encode(TEXTS), atol=1e-6)
    assert ids == ["d0", "d1", "d2"]
    sidecar = json.loads((tmp_path / "v.npy.json").read_text())
    encoder = emberta.load_encoder(tiny_models["bert-st"])
    assert sidecar["fingerprint"] == encoder.fingerprint
    assert sidecar["count"] == 3 and sidecar["dim"] == 32 and sidecar["options"]["pooling"] == "cls"


def test_encode_parquet_with_options(tiny_models, jsonl, tmp_path):
    out = tmp_path / "v.parquet"
    args = ["--pooling", "max", "--truncate-dim", "8", "--prompt-name", "query", "--normalize"]
    result = run("encode", jsonl, "-m", tiny_models["roberta-st"], "-o", out, *args)
    assert result.exit_code == 0, result.output
    vectors, ids = emberta.read_vectors(out)
    encoder = emberta.load_encoder(tiny_models["roberta-st"], pooling="max", truncate_dim=8, normalize=True)
    np.testing.assert_allclose(vectors, encoder.encode(TEXTS, prompt_name="query"), atol=1e-6)
    assert ids == ["0", "1", "2"]


def test_encode_txt_with_limit_and_literal_prompt(tiny_models, tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("\n".join(TEXTS) + "\n")
    out = tmp_path / "v.npy"
    assert run("encode", path, "-m", tiny_models["bert"], "-o", out, "--limit", "2", "--prompt", "q: ").exit_code == 0
    expected = emberta.load_encoder(tiny_models["bert"]).encode(["q: " + t for t in TEXTS[:2]])
    np.testing.assert_allclose(np.load(out), expected, atol=1e-6)
    sidecar = json.loads((tmp_path / "v.npy.json").read_text())
    assert sidecar["prompt"] == "q: "
    assert sidecar["fingerprint"] == emberta.load_encoder(tiny_models["bert"], prompt="q: ").fingerprint


def test_encode_prompt_and_prompt_name_together_is_an_error(tiny_models, jsonl, tmp_path):
    out = tmp_path / "v.npy"
    result = run("encode", jsonl, "-m", tiny_models["bert-st"], "-o", out, "--prompt", "q: ", "--prompt-name", "query")
    assert result.exit_code == 2, result.output
    assert "give either prompt" in result.stderr and not out.exists()


def test_encode_standard_input_with_format(tiny_models, tmp_path):
    lines = "".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(TEXTS))
    out = tmp_path / "v.npy"
    result = run("encode", "-", "-m", tiny_models["bert"], "-o", out, "--format", "jsonl", "--id-field", "id",
                 input=lines)  # fmt: skip
    assert result.exit_code == 0, result.output
    vectors, ids = emberta.read_vectors(out)
    np.testing.assert_allclose(vectors, emberta.load_encoder(tiny_models["bert"]).encode(TEXTS), atol=1e-6)
    assert ids == ["d0", "d1", "d2"]
    assert json.loads((tmp_path / "v.npy.json").read_text())["source"] == "<stdin>"
    result = run("encode", "-", "-m", tiny_models["bert"], "-o", tmp_path / "w.npy", input=lines)
    assert result.exit_code == 2 and "--format" in result.stderr and not (tmp_path / "w.npy").exists()


def test_encode_reports_long_texts_once(tiny_models, tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("\n".join(["word " * 100, "short", "word " * 80]) + "\n")
    result = run("encode", path, "-m", tiny_models["bert"], "-o", tmp_path / "v.npy", "--max-length", "16")
    assert result.exit_code == 0
    assert result.stderr.count("warning:") == 1 and "2 of 3 texts are longer than max_length=16" in result.stderr
    chunked = run("encode", path, "-m", tiny_models["bert"], "-o", tmp_path / "c.npy", "--max-length", "16",
                  "--long-text", "chunk")  # fmt: skip
    assert chunked.exit_code == 0 and "warning" not in chunked.stderr


def test_encode_errors_replace_continues(tiny_models, tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes(b"ok\ncaf\xe9\n")
    out = tmp_path / "v.npy"
    result = run("encode", path, "-m", tiny_models["bert"], "-o", out, "--errors", "replace")
    assert result.exit_code == 0 and "1 lines were not UTF-8" in result.stderr
    assert np.load(out).shape == (2, 32)


def _bad_inputs(tmp_path, tiny_models):
    def write(name, data):
        path = tmp_path / name
        path.write_bytes(data)
        return path

    good = write("good.jsonl", b'{"text": "a"}\n')
    no_weights = tmp_path / "no-weights"
    no_weights.mkdir()
    (no_weights / "config.json").write_text((tiny_models["bert"] / "config.json").read_text())
    return {
        "missing input": ([tmp_path / "missing.jsonl"], "no such file"),
        "empty input": ([write("empty.jsonl", b"")], "no texts in the file"),
        "malformed json": ([write("bad.jsonl", b'{"text": "a"}\n{oops\n')], "bad.jsonl:2: not valid JSON"),
        "missing field": ([write("f.jsonl", b'{"body": "a"}\n')], "f.jsonl:1: no field 'text'"),
        "non-utf8": ([write("latin.txt", b"caf\xe9\n")], "latin.txt:1: bytes that are not UTF-8"),
        "unknown pooling": ([good, "--pooling", "avg"], "unknown pooling 'avg'"),
        "model without weights": ([good, "-m", no_weights], "no weights in"),
        "out into missing dir": ([good, "-o", tmp_path / "nodir" / "v.npy"], "does not exist; create it"),
        "truncate_dim too large": ([good, "--truncate-dim", "33"], "truncate_dim=33 is larger"),
        "unknown model": ([good, "-m", tmp_path / "no-model"], "no such folder"),
    }


BAD = [
    "missing input",
    "empty input",
    "malformed json",
    "missing field",
    "non-utf8",
    "unknown pooling",
    "model without weights",
    "out into missing dir",
    "truncate_dim too large",
    "unknown model",
]


@pytest.mark.parametrize("case", BAD)
def test_bad_input_exits_2_with_one_line_and_no_output(tiny_models, tmp_path, case):
    args, message = _bad_inputs(tmp_path, tiny_models)[case]
    out = tmp_path / "out.npy"
    if "-o" not in args:
        args = [*args, "-o", out]
    if "-m" not in args:
        args = [*args, "-m", tiny_models["bert"]]
    result = run("encode", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert not list(tmp_path.glob("out.npy*")) and not list(tmp_path.glob(".out.npy*"))


def test_console_script_exit_code_and_no_traceback(tmp_path):
    """The installed entry point, in a fresh process: exit 2, one line, no traceback."""
    path = tmp_path / "bad.jsonl"
    path.write_text("{not json\n")
    result = subprocess.run(
        [sys.executable, "-m", "emberta.cli.main", "encode", str(path), "--out", str(tmp_path / "v.npy")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: {path}:1: not valid JSON (Expecting property name enclosed in double quotes at column 2); "
        "each line must be one JSON object"
    )


def test_similarity_and_info(tiny_models):
    result = run("similarity", "a fox", "a dog", "-m", tiny_models["bert"])
    assert result.exit_code == 0
    encoder = emberta.load_encoder(tiny_models["bert"])
    vectors = encoder.encode(["a fox", "a dog"])
    assert float(result.stdout) == pytest.approx(float(encoder.similarity(vectors[:1], vectors[1:])[0, 0]), abs=1e-4)

    table = run("info", tiny_models["roberta-st"])
    assert table.exit_code == 0
    for label in ("RobertaModel", "parameters", "output dim", "max length", "pooling", "query="):
        assert label in table.stdout
    details = json.loads(run("info", tiny_models["roberta-st"], "--json").stdout)
    assert details["dim"] == 32 and details["pooling"] == "mean" and details["prompts"]["document"] == "passage: "


def test_similarity_uses_backend_and_quantize(tiny_models, tmp_path, monkeypatch):
    """--backend and --quantize reach the encoder: an invalid pair is refused, --backend onnx exports once."""
    result = run("similarity", "a fox", "a dog", "-m", tiny_models["bert"], "--quantize", "int8")
    assert result.exit_code == 2 and "needs the ONNX or OpenVINO backend" in result.stderr
    monkeypatch.setenv("EMBERTA_CACHE", str(tmp_path / "cache"))
    result = run("similarity", "a fox", "a dog", "-m", tiny_models["bert"], "--backend", "onnx")
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "cache" / "onnx").iterdir())) == 1
    encoder = emberta.load_encoder(tiny_models["bert"])
    vectors = encoder.encode(["a fox", "a dog"])
    assert float(result.stdout) == pytest.approx(float(encoder.similarity(vectors[:1], vectors[1:])[0, 0]), abs=1e-3)
