"""ONNX export and runtime, int8, and static (model2vec) models, on the tiny BERT and RoBERTa models."""

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
from emberta.encoders.onnx_export import export_onnx
from emberta.errors import ModelError, OptionError

TEXTS = ["The quick brown fox.", "A man is playing a guitar on the street today.", "", "numbers 42 and 3.14"]
TEMPLATE = 'This sentence : "{text}" means [MASK] .'


def row_cosines(a, b):
    return (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)


@pytest.fixture(scope="module")
def exports(tiny_models, tmp_path_factory):
    root = tmp_path_factory.mktemp("exports")
    return {name: export_onnx(tiny_models[name], root / name) for name in ("bert", "roberta", "bert-st", "roberta-st")}


@pytest.mark.parametrize("name", ["bert", "roberta", "bert-st", "roberta-st"])
def test_onnx_fp32_equals_torch(tiny_models, exports, name):
    onnx = emberta.load_encoder(f"onnx:{exports[name]}")
    torch_vectors = emberta.load_encoder(tiny_models[name]).encode(TEXTS)
    vectors = onnx.encode(TEXTS)
    assert vectors.shape == torch_vectors.shape and vectors.dtype == np.float32
    assert row_cosines(vectors, torch_vectors).min() >= 0.9999
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), np.linalg.norm(torch_vectors, axis=1), rtol=1e-4)
    assert onnx.backend == "onnx" and onnx.fingerprint != emberta.load_encoder(tiny_models[name]).fingerprint


@pytest.mark.parametrize("arch", ["bert", "roberta"])
@pytest.mark.parametrize("options", [{"pooling": "cls"}, {"pooling": "max"}, {"pooling": "weightedmean"},
                                     {"pooling": "lasttoken"}, {"pooling": f"prompt:{TEMPLATE}"},
                                     {"layer": 1}, {"normalize": True}])  # fmt: skip
def test_onnx_export_options_in_the_graph(tiny_models, tmp_path, arch, options):
    path = export_onnx(tiny_models[arch], tmp_path / "export", **options)
    expected = emberta.load_encoder(tiny_models[arch], **options).encode(TEXTS)
    assert row_cosines(emberta.load_encoder(f"onnx:{path}").encode(TEXTS), expected).min() >= 0.9999


def test_onnx_runtime_options_prompts_truncation_chunking(tiny_models, exports):
    onnx = emberta.load_encoder(f"onnx:{exports['bert-st']}", truncate_dim=8, max_length=16, long_text="chunk")
    torch = emberta.load_encoder(tiny_models["bert-st"], truncate_dim=8, max_length=16, long_text="chunk")
    long_texts = [" ".join(["the fox jumps over the dog"] * 12), "short"]
    assert (
        row_cosines(onnx.encode(long_texts, prompt_name="query"), torch.encode(long_texts, prompt_name="query")).min()
        > 0.9999
    )
    assert onnx.dim == 8 and onnx.prompts["query"] == "query: "


def test_int8_export_is_close(tiny_models, tmp_path):
    path = export_onnx(tiny_models["bert-st"], tmp_path / "int8", quantize="int8")
    int8 = emberta.load_encoder(f"onnx:{path}")
    assert json.loads((path / "emberta-onnx.json").read_text())["quantize"] == "int8"
    fp32 = emberta.load_encoder(tiny_models["bert-st"]).encode(TEXTS)
    assert row_cosines(int8.encode(TEXTS), fp32).min() > 0.95


def test_backend_onnx_exports_once_into_the_cache(tiny_models, tmp_path, monkeypatch):
    monkeypatch.setenv("EMBERTA_CACHE", str(tmp_path / "cache"))
    first = emberta.load_encoder(tiny_models["roberta"], backend="onnx", pooling="cls")
    (export_dir,) = (tmp_path / "cache" / "onnx").iterdir()
    import emberta.encoders.onnx_export as onnx_export

    monkeypatch.setattr(onnx_export, "export_onnx", lambda *a, **k: pytest.fail("exported twice"))
    second = emberta.load_encoder(tiny_models["roberta"], backend="onnx", pooling="cls")
    np.testing.assert_allclose(first.encode(TEXTS), second.encode(TEXTS))
    assert second.folder.path == export_dir


def test_onnx_and_static_run_without_torch(exports, static_model):
    """Importing torch or transformers is made impossible; the ONNX and static backends still encode."""
    code = (
        "import sys\n"
        "for name in ('torch', 'transformers', 'sentence_transformers'): sys.modules[name] = None\n"
        "import emberta\n"
        f"print(emberta.load_encoder('onnx:{exports['bert']}').encode(['a fox']).shape)\n"
        f"print(emberta.load_encoder('static:{static_model}').encode(['a fox']).shape)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["(1, 32)", "(1, 16)"]


def test_unsupported_module_fails_naming_it(tiny_models, tmp_path):
    folder = tmp_path / "odd"
    shutil.copytree(tiny_models["bert-st"], folder)
    modules = json.loads((folder / "modules.json").read_text())
    modules.append({"idx": 3, "name": "3", "path": "3_LSTM", "type": "sentence_transformers.models.LSTM"})
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(
        ModelError, match=r"module '3' of type 'sentence_transformers\.models\.LSTM' cannot be exported"
    ):
        export_onnx(folder, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_corrupt_or_truncated_model_is_detected(exports, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(exports["bert"], copy)
    model = copy / "model.onnx"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    with pytest.raises(ModelError, match="corrupt or truncated"):
        emberta.load_encoder(f"onnx:{copy}")
    data = bytearray((exports["bert"] / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="corrupt or truncated"):
        emberta.load_encoder(f"onnx:{copy}")
    with pytest.raises(ModelError, match="not an ONNX export"):
        emberta.load_encoder(f"onnx:{tmp_path}")


def test_options_baked_into_the_graph_cannot_change_at_load(exports):
    with pytest.raises(OptionError, match="has pooling='mean' in its graph"):
        emberta.load_encoder(f"onnx:{exports['bert']}", pooling="cls")
    with pytest.raises(OptionError, match="needs the ONNX or OpenVINO backend"):
        emberta.load_encoder("default", quantize="int8")


@pytest.fixture(scope="module")
def static_model(tiny_models, tmp_path_factory):
    pytest.importorskip("model2vec.distill")
    from emberta.encoders.static_distill import distill_static

    return distill_static(tiny_models["bert"], tmp_path_factory.mktemp("static") / "static", dims=16)


def test_static_model(static_model):
    encoder = emberta.load_encoder(f"static:{static_model}")
    vectors = encoder.encode(TEXTS)
    assert vectors.shape == (4, 16) and encoder.backend == "static"
    assert encoder.similarity(vectors[:1], vectors[:1])[0, 0] == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(OptionError, match="no pooling to choose"):
        emberta.load_encoder(f"static:{static_model}", pooling="cls")
    with pytest.raises(ModelError, match="no such folder"):
        emberta.load_encoder(f"static:{static_model}-missing")


def test_cli_export_encode_and_distill(tiny_models, tmp_path):
    runner = CliRunner()
    out = tmp_path / "export"
    result = runner.invoke(app, ["export", "onnx", str(tiny_models["roberta-st"]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    texts = tmp_path / "in.txt"
    texts.write_text("\n".join(TEXTS) + "\n")
    result = runner.invoke(app, ["encode", str(texts), "-m", f"onnx:{out}", "-o", str(tmp_path / "v.npy")])
    assert result.exit_code == 0, result.output
    expected = emberta.load_encoder(tiny_models["roberta-st"]).encode(TEXTS)
    assert row_cosines(np.load(tmp_path / "v.npy"), expected).min() >= 0.9999
    bad = runner.invoke(app, ["export", "onnx", str(tiny_models["bert"]), "--out", str(tmp_path / "no" / "dir")])
    assert bad.exit_code == 2 and "does not exist" in bad.stderr


def test_onnx_backend_shows_a_progress_bar_only_when_asked(exports, capfd):
    encoder = emberta.load_encoder(f"onnx:{exports['bert']}")
    capfd.readouterr()
    encoder.encode(TEXTS * 20, batch_size=4, show_progress=True)
    err = capfd.readouterr().err
    assert "Batches" in err and "80/80" in err, err
    encoder.encode(TEXTS * 20, batch_size=4, show_progress=False)
    assert capfd.readouterr().err == ""


def test_distillation_keeps_model2vecs_progress_bar_off_stderr_unless_asked(tiny_models, tmp_path, capfd):
    pytest.importorskip("model2vec.distill")
    from emberta.encoders.static_distill import distill_static

    capfd.readouterr()
    distill_static(tiny_models["bert-st"], tmp_path / "quiet", dims=8, show_progress=False)
    assert capfd.readouterr().err == ""
    distill_static(tiny_models["bert-st"], tmp_path / "shown", dims=8, show_progress=True)
    assert "Encoding tokens" in capfd.readouterr().err  # the bar the first call kept quiet
    result = CliRunner().invoke(app, ["distill", "static", str(tiny_models["bert-st"]), "--out",
                                      str(tmp_path / "cli"), "--dims", "8", "-q"])  # fmt: skip
    assert result.exit_code == 0 and result.output == "", result.output
    assert emberta.load_encoder(f"static:{tmp_path / 'cli'}").dim == 8


def test_a_failed_export_or_distillation_leaves_nothing_behind(tiny_models, exports, tmp_path, monkeypatch):
    import emberta.encoders.onnx_export as onnx_export

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(onnx_export, "_write_tokenizer", fail)
    with pytest.raises(OSError, match="disk full"):
        export_onnx(tiny_models["bert"], tmp_path / "export")
    assert list(tmp_path.iterdir()) == []  # neither the folder nor its staging copy
    old = tmp_path / "old"
    shutil.copytree(exports["bert"], old)
    with pytest.raises(OSError, match="disk full"):
        export_onnx(tiny_models["bert"], old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"] and emberta.load_encoder(f"onnx:{old}").dim == 32
    pytest.importorskip("model2vec.distill")
    from model2vec import StaticModel

    from emberta.encoders.static_distill import distill_static

    monkeypatch.setattr(StaticModel, "save_pretrained", fail)
    with pytest.raises(OSError, match="disk full"):
        distill_static(tiny_models["bert"], tmp_path / "static", dims=8)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]
    with pytest.raises(OptionError, match="does not exist; create it first"):
        distill_static(tiny_models["bert"], tmp_path / "no" / "static", dims=8)
