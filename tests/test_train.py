"""`emberta train embed` on tiny models: each loss runs and its loss falls on a toy task, the output loads with
emberta and sentence-transformers, the config file reproduces a run, bad data gives file:line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import emberta
from emberta.cli.main import app
from emberta.errors import InputError, OptionError
from emberta.train import TrainConfig, train_embed

runner = CliRunner()
WORDS = [
    "fox",
    "dog",
    "guitar",
    "weather",
    "book",
    "search",
    "cats",
    "numbers",
    "street",
    "breeze",
    "history",
    "physics",
]


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def data(tmp_path):
    pairs = write(tmp_path / "pairs.jsonl", [{"anchor": f"what about the {w}", "positive": f"all about the {w}"}
                                             for w in WORDS] * 2)  # fmt: skip
    triplets = write(tmp_path / "triplets.jsonl", [
        {"anchor": f"what about the {w}", "positive": f"all about the {w}", "negative": f"all about the {v}"}
        for w, v in zip(WORDS, WORDS[1:] + WORDS[:1], strict=True)
    ] * 2)  # fmt: skip
    scored = write(tmp_path / "scored.jsonl", [
        {"sentence1": f"the {w} is here", "sentence2": f"the {v} is there", "score": 5.0 if w == v else 0.5}
        for w in WORDS[:6] for v in WORDS[:6]
    ])  # fmt: skip
    return {"pairs": pairs, "triplets": triplets, "scored": scored}


@pytest.mark.parametrize(("loss", "kind"), [("mnrl", "pairs"), ("mnrl", "triplets"), ("cosent", "scored"),
                                            ("triplet", "triplets")])  # fmt: skip
def test_each_loss_trains_and_its_loss_falls(tiny_models, data, tmp_path, loss, kind):
    out = tmp_path / f"model-{loss}-{kind}"
    config = TrainConfig(model=str(tiny_models["roberta-st"]), data=[str(data[kind])], loss=loss, out=str(out),
                         epochs=10, batch_size=12, lr=1e-3, warmup=0.0, logging_steps=2)  # fmt: skip
    summary = train_embed(config)
    logged = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    curve = [entry["loss"] for entry in logged if "loss" in entry]
    assert summary["steps"] > 4 and np.mean(curve[-3:]) < np.mean(curve[:3])
    encoder = emberta.load_encoder(out)
    vectors = encoder.encode(["all about the fox"], show_progress=False)
    assert vectors.shape == (1, encoder.dim)
    from sentence_transformers import SentenceTransformer

    plain = SentenceTransformer(str(out), device="cpu").encode(["all about the fox"])
    assert float(vectors[0] @ plain[0] / np.linalg.norm(plain[0])) > 0.9999
    saved = json.loads((out / "emberta-train.json").read_text())
    assert saved["config"]["loss"] == loss and (out / "metrics.jsonl").is_file()


def test_matryoshka_and_the_config_file_reproduce_a_run(tiny_models, data, tmp_path):
    first = tmp_path / "first"
    result = runner.invoke(app, ["train", "embed", "--model", str(tiny_models["roberta-st"]), "--data",
                                 str(data["pairs"]), "--loss", "mnrl", "--matryoshka", "32,16", "--max-steps", "6",
                                 "--batch-size", "8", "--out", str(first), "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    second = tmp_path / "second"
    result = runner.invoke(app, ["train", "embed", "--config", str(first / "emberta-train.json"), "--out", str(second),
                                 "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    a = emberta.load_encoder(first).encode(WORDS, show_progress=False)
    b = emberta.load_encoder(second).encode(WORDS, show_progress=False)
    np.testing.assert_allclose(a, b, atol=1e-5)  # same config and seed, same model
    assert json.loads((second / "emberta-train.json").read_text())["config"]["matryoshka_dims"] == [32, 16]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"anchor": "a", "positive": "b"}, {"anchor": "c"}], ":2: no field 'positive'"),
        ([{"anchor": "a", "positive": ""}], ":1: 'positive' must be a non-empty string"),
        ([{"sentence1": "a", "sentence2": "b", "score": "high"}], ":1: 'score' is str, not a number"),
        ([{"question": "a", "answer": "b"}], ":1: cannot tell the format"),
    ],
)
def test_bad_training_files_name_file_and_line(tiny_models, tmp_path, rows, message):
    path = write(tmp_path / "bad.jsonl", rows)
    config = TrainConfig(model=str(tiny_models["roberta-st"]), data=[str(path)], loss="mnrl", out=str(tmp_path / "o"))
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        train_embed(config)
    assert not (tmp_path / "o").exists()


def test_bad_options(tiny_models, data, tmp_path):
    model = str(tiny_models["roberta-st"])
    with pytest.raises(InputError, match="trains on scored"):
        train_embed(TrainConfig(model=model, data=[str(data["pairs"])], loss="cosent", out=str(tmp_path / "o")))
    with pytest.raises(OptionError, match="unknown --loss"):
        train_embed(TrainConfig(model=model, data=[str(data["pairs"])], loss="arcface", out=str(tmp_path / "o")))
    with pytest.raises(OptionError, match="already exists"):
        train_embed(TrainConfig(model=model, data=[str(data["pairs"])], out=str(tmp_path)))
    result = runner.invoke(app, ["train", "embed", "--data", str(data["pairs"]), "--out", str(tmp_path / "o"),
                                 "--matryoshka", "64,x"])  # fmt: skip
    assert result.exit_code == 2 and "numbers separated by commas" in result.output
    result = runner.invoke(app, ["train", "embed", "--config", str(tmp_path / "missing.json")])
    assert result.exit_code == 2 and "missing.json: no such config file" in result.output
