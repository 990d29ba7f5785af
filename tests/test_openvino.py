"""The OpenVINO backend on the tiny BERT and RoBERTa models: fp32 equals torch, int8 stays close, exports are
cached, and bad, foreign or corrupt folders are refused with a clear message. The real default model is checked
in tests/test_real_model.py."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

import emberta
from emberta.cli.main import app
from emberta.encoders.calibration import calibration_texts
from emberta.encoders.onnx_export import export_onnx
from emberta.encoders.openvino_export import convert_onnx_export, export_openvino
from emberta.errors import InputError, ModelError, OptionError

TEXTS = ["The quick brown fox.", "A man is playing a guitar on the street today.", "", "numbers 42 and 3.14"]


def row_cosines(a, b):
    return (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)


@pytest.fixture(scope="module")
def onnx_exports(tiny_models, tmp_path_factory):
    root = tmp_path_factory.mktemp("onnx")
    return {name: export_onnx(tiny_models[name], root / name) for name in ("bert", "roberta-st")}


@pytest.fixture(scope="module")
def openvino_exports(onnx_exports, tmp_path_factory):
    root = tmp_path_factory.mktemp("openvino")
    return {name: convert_onnx_export(path, root / name) for name, path in onnx_exports.items()}


@pytest.mark.parametrize("name", ["bert", "roberta-st"])
def test_openvino_fp32_equals_torch(tiny_models, openvino_exports, name):
    openvino = emberta.load_encoder(f"openvino:{openvino_exports[name]}", threads=1)
    torch = emberta.load_encoder(tiny_models[name])
    vectors, expected = openvino.encode(TEXTS), torch.encode(TEXTS)
    assert vectors.shape == expected.shape and vectors.dtype == np.float32
    assert row_cosines(vectors, expected).min() >= 0.9999
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), np.linalg.norm(expected, axis=1), rtol=1e-4)
    assert openvino.backend == "openvino" and openvino.fingerprint != torch.fingerprint
    assert openvino.describe()["format"] == "openvino export"


def test_openvino_runtime_options_prompts_and_chunking(tiny_models, openvino_exports):
    options = dict(truncate_dim=8, max_length=16, long_text="chunk")
    openvino = emberta.load_encoder(f"openvino:{openvino_exports['roberta-st']}", **options)
    torch = emberta.load_encoder(tiny_models["roberta-st"], **options)
    long_texts = [" ".join(["the fox jumps over the dog"] * 12), "short"]
    vectors = openvino.encode(long_texts, prompt_name="query")
    assert row_cosines(vectors, torch.encode(long_texts, prompt_name="query")).min() > 0.9999
    assert openvino.dim == 8


def test_int8_is_close_and_records_its_calibration(tiny_models, onnx_exports, tmp_path, capfd):
    calibration = tmp_path / "calibration.txt"
    calibration.write_text("\n".join(calibration_texts()[:48]) + "\n", encoding="utf-8")
    path = convert_onnx_export(onnx_exports["bert"], tmp_path / "int8", quantize="int8", calibration=calibration)
    assert capfd.readouterr().out == ""  # NNCF's progress goes to stderr: stdout may carry a command's output
    config = json.loads((path / "emberta-openvino.json").read_text())
    assert config["quantize"] == "int8" and config["calibration"]["texts"] == 48
    int8 = emberta.load_encoder(f"openvino:{path}")
    fp32 = emberta.load_encoder(tiny_models["bert"]).encode(TEXTS)
    assert row_cosines(int8.encode(TEXTS), fp32).min() > 0.95
    assert int8.describe()["format"] == "openvino export (int8)"


def test_backend_openvino_exports_once_into_the_cache(tiny_models, tmp_path, monkeypatch):
    monkeypatch.setenv("EMBERTA_CACHE", str(tmp_path / "cache"))
    first = emberta.load_encoder(tiny_models["bert"], backend="openvino", pooling="cls")
    (export_dir,) = (tmp_path / "cache" / "openvino").iterdir()
    import emberta.encoders.openvino_export as openvino_export

    monkeypatch.setattr(openvino_export, "convert_onnx_export", lambda *a, **k: pytest.fail("exported twice"))
    second = emberta.load_encoder(tiny_models["bert"], backend="openvino", pooling="cls")
    np.testing.assert_allclose(first.encode(TEXTS), second.encode(TEXTS))
    assert second.folder.path == export_dir and first.pooling == "cls"


def test_export_openvino_converts_an_onnx_export(onnx_exports, openvino_exports, tmp_path):
    path = export_openvino(f"onnx:{onnx_exports['bert']}", tmp_path / "converted")
    np.testing.assert_allclose(
        emberta.load_encoder(f"openvino:{path}").encode(TEXTS),
        emberta.load_encoder(f"openvino:{openvino_exports['bert']}").encode(TEXTS),
    )


def test_converting_again_gives_the_same_files_and_fingerprint(onnx_exports, openvino_exports, tmp_path):
    """OpenVINO names some nodes from a per-process counter; the export renames them, so an index built with
    one conversion accepts the encoder of the next."""
    again = convert_onnx_export(onnx_exports["bert"], tmp_path / "again")
    assert (again / "model.xml").read_bytes() == (openvino_exports["bert"] / "model.xml").read_bytes()
    first = emberta.load_encoder(f"openvino:{openvino_exports['bert']}")
    assert emberta.load_encoder(f"openvino:{again}").fingerprint == first.fingerprint


def test_openvino_runs_without_torch(openvino_exports):
    """Importing torch or transformers is made impossible; the OpenVINO backend still encodes."""
    code = (
        "import sys\n"
        "for name in ('torch', 'transformers', 'sentence_transformers', 'nncf'): sys.modules[name] = None\n"
        "import emberta\n"
        f"print(emberta.load_encoder('openvino:{openvino_exports['bert']}').encode(['a fox']).shape)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(1, 32)"


def test_corrupt_foreign_or_wrong_kind_folders_are_refused(openvino_exports, onnx_exports, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(openvino_exports["bert"], copy)
    weights = copy / "model.bin"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ModelError, match=r"model\.bin is corrupt or truncated"):
        emberta.load_encoder(f"openvino:{copy}")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    shutil.copyfile(openvino_exports["bert"] / "model.xml", foreign / "model.xml")
    with pytest.raises(ModelError, match="holds a model graph that emberta did not export"):
        emberta.load_encoder(f"openvino:{foreign}")
    with pytest.raises(ModelError, match=r"is an ONNX export of emberta, not an OpenVINO one: load it with onnx:"):
        emberta.load_encoder(f"openvino:{onnx_exports['bert']}")
    with pytest.raises(ModelError, match="no such folder"):
        emberta.load_encoder(f"openvino:{tmp_path / 'missing'}")
    (copy / "emberta-openvino.json").write_text('{"format": "emberta.openvino/1",', encoding="utf-8")
    with pytest.raises(ModelError, match=r"emberta-openvino\.json:1: not valid JSON"):
        emberta.load_encoder(f"openvino:{copy}")


def test_bad_options_are_refused(tiny_models, openvino_exports, onnx_exports, tmp_path):
    with pytest.raises(OptionError, match="has pooling='mean' in its graph"):
        emberta.load_encoder(f"openvino:{openvino_exports['bert']}", pooling="cls")
    with pytest.raises(OptionError, match="runs on the openvino backend, not 'onnx'"):
        emberta.load_encoder(f"openvino:{openvino_exports['bert']}", backend="onnx")
    with pytest.raises(OptionError, match="calibration calibrates OpenVINO int8"):
        emberta.load_encoder("default", backend="openvino", calibration="x.txt")
    with pytest.raises(OptionError, match="has its options in its graph already"):
        export_openvino(f"onnx:{onnx_exports['bert']}", tmp_path / "w", pooling="cls")
    with pytest.raises(OptionError, match="add --quantize int8"):
        convert_onnx_export(onnx_exports["bert"], tmp_path / "x", calibration="x.txt")
    int8_onnx = export_onnx(tiny_models["bert"], tmp_path / "int8-onnx", quantize="int8")
    with pytest.raises(OptionError, match="is an int8 ONNX export; convert an fp32 export"):
        convert_onnx_export(int8_onnx, tmp_path / "y")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(InputError, match="no text to calibrate on"):
        convert_onnx_export(onnx_exports["bert"], tmp_path / "z", quantize="int8", calibration=empty)
    assert not any((tmp_path / name).exists() for name in ("w", "x", "y", "z"))


def test_cli_export_openvino_and_encode(tiny_models, tmp_path):
    runner = CliRunner()
    out = tmp_path / "ov"
    result = runner.invoke(app, ["export", "openvino", str(tiny_models["bert"]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TEXTS[:2]) + "\n", encoding="utf-8")
    vectors = tmp_path / "v.npy"
    result = runner.invoke(app, ["encode", str(texts), "--model", f"openvino:{out}", "--out", str(vectors), "-q"])
    assert result.exit_code == 0, result.output
    expected = emberta.load_encoder(tiny_models["bert"]).encode(TEXTS[:2])
    assert row_cosines(np.load(vectors), expected).min() >= 0.9999
    result = runner.invoke(app, ["export", "openvino", str(tiny_models["bert"]), "--out", str(tmp_path / "no" / "x")])
    assert result.exit_code == 2 and "does not exist" in result.output
