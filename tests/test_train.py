"""`emberta train embed` on tiny models: each loss runs and its loss falls on a toy task, the output loads with
emberta and sentence-transformers, the config file reproduces a run, bad data gives file:line errors."""

from __future__ import annotations

import json
import re

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


def test_reading_a_config_does_not_import_torch():
    import subprocess
    import sys

    code = "import emberta.train.config, sys; assert 'torch' not in sys.modules"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_mining_fields_are_declared_once_and_old_config_files_load(tmp_path):
    from dataclasses import fields

    from emberta.train import MiningCriteria, MiningOptions

    shared = [f.name for f in fields(MiningCriteria)]
    assert shared == ["range_min", "range_max", "margin", "relative_margin"]
    assert set(shared) <= {f.name for f in fields(MiningOptions)} and set(shared) <= set(TrainConfig().to_dict())
    old = {"model": "default", "data": ["pairs.jsonl"], "out": "m", "hard_negatives": 2, "range_min": 3,
           "range_max": 40, "margin": None, "relative_margin": 0.05}  # fmt: skip
    (tmp_path / "emberta-train.json").write_text(json.dumps({"config": old}))
    loaded = TrainConfig.from_file(tmp_path / "emberta-train.json")
    assert {k: loaded.to_dict()[k] for k in old} == old
    assert loaded.mining_options() == MiningOptions(num_negatives=2, range_min=3, range_max=40, relative_margin=0.05)


def test_positional_construction_is_unchanged_and_the_config_dict_stays_flat():
    from emberta.train import MiningOptions

    assert MiningOptions(3).num_negatives == 3 and MiningOptions(3).range_min == 0
    assert TrainConfig("m").model == "m" and TrainConfig("m", ["d.jsonl"]).data == ["d.jsonl"]
    keys = {"model", "data", "loss", "out", "matryoshka_dims", "layers", "starbucks_pairs", "teacher",
            "student_layers", "scale", "hardness_strength", "hardness_mode", "mini_batch_size", "beir_split",
            "hard_negatives", "negatives_from", "range_min", "range_max", "margin", "relative_margin", "max_length",
            "epochs", "batch_size", "lr", "warmup", "max_steps", "seed", "logging_steps", "eval_tasks", "eval_steps",
            "data_dir", "save_steps", "checkpoint_dir", "keep_checkpoints"}  # fmt: skip
    saved = TrainConfig().to_dict()
    assert set(saved) == keys and not any(isinstance(value, dict) for value in saved.values())


def test_none_flags_keep_defaults_and_config_values_are_type_checked(tmp_path):
    built = TrainConfig.from_options(epochs=None, max_length=None, range_max=None, data_dir=None, lr=None)
    assert built.epochs == 1.0 and built.lr == 2e-5 and built.max_length is None and built.data_dir is None
    assert TrainConfig.from_options(range_max=40, max_length=64).range_max == 40
    good = {"epochs": 2, "max_length": None, "margin": 0.1, "data": ["a"], "keep_checkpoints": True}
    (tmp_path / "good.json").write_text(json.dumps(good))
    assert TrainConfig.from_file(tmp_path / "good.json").epochs == 2
    for field, value, expected in [("epochs", "many", "float"), ("max_length", 1.5, "int | None"),
                                   ("data", "a.jsonl", "list[str]"), ("seed", True, "int"),
                                   ("keep_checkpoints", 1, "bool")]:  # fmt: skip
        (tmp_path / "bad.json").write_text(json.dumps({field: value}))
        with pytest.raises(InputError, match=f"config field '{field}' is .*; expected {re.escape(expected)}$"):
            TrainConfig.from_file(tmp_path / "bad.json")


def test_bad_mining_options_fail_before_any_model_loads(data, tmp_path):
    config = TrainConfig(model="no-such-model", data=[str(data["pairs"])], out=str(tmp_path / "o"),
                         hard_negatives=3, range_min=5, range_max=6)  # fmt: skip
    with pytest.raises(OptionError, match="--range-max >= range-min"):
        train_embed(config)


def test_the_config_of_a_run_comes_from_flags_a_file_or_a_checkpoints_folder(tmp_path):
    flags = dict(model="m", data=[tmp_path / "a.jsonl"], out=tmp_path / "o", matryoshka_dims="32,16", teacher=None,
                 starbucks=False, starbucks_pairs=None, eval_tasks="STS12,STS13", range_max=None,
                 checkpoint_dir=None)  # fmt: skip
    built = TrainConfig.for_run(**flags)
    assert built.data == [str(tmp_path / "a.jsonl")] and built.out == str(tmp_path / "o")
    assert built.matryoshka_dims == [32, 16] and built.eval_tasks == ["STS12", "STS13"]
    assert built.teacher == "" and built.checkpoint_dir == "" and built.layers == ""
    starbucks = TrainConfig.for_run(starbucks=True, starbucks_pairs="1:8,2:32")
    assert starbucks.layers == "starbucks" and starbucks.starbucks_pairs == [[1, 8], [2, 32]]
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps({"config": built.to_dict()}))
    again = TrainConfig.for_run(config=saved, **{**flags, "out": tmp_path / "again", "model": "ignored"})
    assert again.to_dict() == {**built.to_dict(), "out": str(tmp_path / "again")}
    assert TrainConfig.for_run(config=saved, out=None).out == built.out
    checkpoints = tmp_path / "o.checkpoints"
    checkpoints.mkdir()
    (checkpoints / "emberta-train.json").write_text(json.dumps({"config": built.to_dict()}))
    resumed = TrainConfig.for_run(resume=checkpoints, **flags)
    assert resumed.to_dict() == {**built.to_dict(), "checkpoint_dir": str(checkpoints)}
    with pytest.raises(OptionError, match="--matryoshka '32,x': give numbers separated by commas"):
        TrainConfig.for_run(matryoshka_dims="32,x")
    with pytest.raises(InputError, match="no such config file"):
        TrainConfig.for_run(resume=tmp_path / "missing")
