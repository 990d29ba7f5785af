"""`emberta classify`: every head trains on a tiny model and tiny data, saves a self-describing folder that loads
and predicts the same; metrics against scikit-learn; calibration; and every bad input the issue lists exits 2
with one line naming the file and line, leaving nothing behind."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from emberta.classify import Classifier, evaluate, predict_file, train
from emberta.cli.main import app

runner = CliRunner()
POS = ["good great wonderful day", "lovely happy sunny fun", "great joy and happy times", "wonderful lovely people"]
NEG = ["bad awful terrible day", "sad gloomy rainy dull", "awful pain and sad times", "terrible bad people"]


def rows(n: int, offset: int = 0) -> list[dict]:
    return [{"text": f"{(POS if i % 2 else NEG)[i % 4]} {i + offset}", "label": "pos" if i % 2 else "neg"}
            for i in range(n)]  # fmt: skip


def write(path, records) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


@pytest.fixture
def data(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBERTA_CACHE", str(tmp_path / "cache"))
    return {name: write(tmp_path / f"{name}.jsonl", rows(n, k)) for name, n, k in
            (("train", 16, 0), ("dev", 8, 100), ("test", 8, 200))}  # fmt: skip


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_logreg_trains_saves_loads_and_scores(tiny_models, data, tmp_path):
    out = tmp_path / "clf"
    clf = train(data["train"], model=tiny_models["bert-st"], dev=data["dev"], test=data["test"], out=out,
                class_weight="balanced")  # fmt: skip
    meta = json.loads((out / "classifier.json").read_text())
    assert meta["format_version"] == 1 and meta["labels"] == ["neg", "pos"] and meta["head"] == "logreg"
    assert meta["encoder"]["fingerprint"] and meta["options"]["class_weight"] == "balanced"
    assert str(meta["regularisation"]["strength"]) in meta["regularisation"]["grid"]  # chosen on dev
    assert sorted(p.name for p in (out / "head").iterdir()) == ["layer0.bias.npy", "layer0.weight.npy"]
    assert not list(out.rglob("*.pkl")) and (out / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    loaded = Classifier.load(out)
    texts = ["happy great day", "awful sad day"]
    np.testing.assert_allclose(loaded.predict_proba(texts), clf.predict_proba(texts))
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= {"accuracy", "macro_f1", "per_class", "ece"} and 0 <= metrics["ece"] <= 1


def test_metrics_match_scikit_learn():
    from sklearn.metrics import accuracy_score, f1_score, precision_score

    from emberta.classify.metrics import classification_metrics, expected_calibration_error

    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(3), size=50)
    truth = [["a", "b", "c"][i] for i in rng.integers(0, 3, 50)]
    m = classification_metrics(proba, ["a", "b", "c"], truth)
    pred = [["a", "b", "c"][i] for i in proba.argmax(1)]
    assert m["accuracy"] == pytest.approx(accuracy_score(truth, pred))
    assert m["macro_f1"] == pytest.approx(f1_score(truth, pred, average="macro"))
    assert m["per_class"]["b"]["precision"] == pytest.approx(
        precision_score(truth, pred, labels=["b"], average=None)[0]
    )
    # ECE by hand: one bin holding everything -> |mean confidence - accuracy|
    y = np.array([0, 1, 0, 0])
    p = np.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.7, 0.3]])
    assert expected_calibration_error(p, y, bins=1) == pytest.approx(abs(0.75 - 0.75))
    assert expected_calibration_error(p, np.array([1, 1, 1, 1]), bins=1) == pytest.approx(0.75)


def test_temperature_scaling_fixes_overconfidence():
    from emberta.classify.calibration import fit_temperature, softmax
    from emberta.classify.metrics import expected_calibration_error

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 2000)
    true_logits = np.stack([np.zeros(2000), (2 * y - 1) * 1.0 + rng.normal(0, 1, 2000)], axis=1)
    overconfident = 5 * true_logits
    t = fit_temperature(overconfident, y)
    assert 2.2 < t < 2.8  # the true log-odds are 2x (means ±1, unit variance), so T = 5 / 2
    assert expected_calibration_error(softmax(overconfident / t), y) < expected_calibration_error(
        softmax(overconfident), y
    )


def test_mlp_multilabel_and_predict_cli(tiny_models, tmp_path, monkeypatch):
    monkeypatch.setenv("EMBERTA_CACHE", str(tmp_path / "cache"))
    multi = [{"text": r["text"], "label": [r["label"]] + (["x"] if i % 3 == 0 else [])} for i, r in enumerate(rows(18))]
    train_file = write(tmp_path / "m.jsonl", multi)
    result = run("classify", "train", "--train", train_file, "--dev", train_file, "--model", tiny_models["bert-st"],
                 "--out", tmp_path / "m", "--head", "mlp", "--multi-label", "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "m" / "classifier.json").read_text())
    assert meta["multi_label"] and len(meta["thresholds"]) == 3 and meta["head_layers"] == 2
    preds_file = tmp_path / "p.jsonl"
    result = run("classify", "predict", tmp_path / "m", train_file, "--out", preds_file, "-q")
    assert result.exit_code == 0, result.output
    preds = [json.loads(line) for line in preds_file.read_text().splitlines()]
    assert (
        len(preds) == 18
        and isinstance(preds[0]["label"], list)
        and set(preds[0]["probabilities"]) == {"neg", "pos", "x"}
    )


def test_predict_streams_and_eval_cli_writes_metrics(tiny_models, data, tmp_path, monkeypatch):
    from sklearn.metrics import f1_score

    monkeypatch.setattr("emberta.classify.predict.BLOCK", 3)  # 8 rows: blocks of 3, 3 and 2
    out = tmp_path / "clf"
    clf = train(data["train"], model=tiny_models["bert-st"], out=out, strength=1.0)
    progress = []
    count = predict_file(clf, data["test"], tmp_path / "p.jsonl", on_progress=progress.append)
    preds = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    texts = [r["text"] for r in rows(8, 200)]
    assert progress == [3, 3, 2] and [p["id"] for p in preds] == [str(i) for i in range(8)]  # in order, across blocks
    assert count == 8 and [p["label"] for p in preds] == clf.predict(texts)
    assert sum(preds[0]["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    result = run("classify", "eval", out, "--test", data["test"])
    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.output and (out / "metrics.json").is_file()
    written = json.loads((out / "metrics.json").read_text())["macro_f1"]
    assert written == pytest.approx(evaluate(out, data["test"], write=False)["macro_f1"])
    truth = [r["label"] for r in rows(8, 200)]
    assert written == pytest.approx(f1_score(truth, clf.predict(texts), average="macro"))  # an independent count


def test_finetune_loads_in_transformers_pipeline_and_as_encoder(tiny_models, data, tmp_path):
    import transformers

    import emberta

    out = tmp_path / "ft"
    result = run("classify", "train", "--train", data["train"], "--dev", data["dev"], "--model",
                 tiny_models["bert-st"], "--out", out, "--head", "finetune", "--epochs", 1, "--loss", "focal",
                 "--batch-size", 8, "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert not list(tmp_path.glob(".ft*")) and not list(out.rglob("*.bin"))  # no checkpoints, no pickles
    pipe = transformers.pipeline("text-classification", model=str(out))
    top = pipe(["happy great day"])[0]["label"]
    assert top in {"neg", "pos"}
    encoder = emberta.load_encoder(out)
    assert encoder.encode(["a text"]).shape == (1, 32) and encoder.pooling == "cls"
    clf = Classifier.load(out)
    assert clf.predict(["happy great day"]) == [top]  # temperature scaling never changes the top label


def test_finetune_mean_pooling_starts_from_the_linear_probe(tiny_models, data, tmp_path):
    import emberta

    # a learning rate of ~0 keeps the starting point: the tuned encoder's embeddings through the head must give
    # the logreg head's logits on frozen embeddings (same pooling, same C)
    probe = train(data["train"], model=tiny_models["bert-st"], head="logreg", strength=1.0)
    out = tmp_path / "ftm"
    clf = train(data["train"], model=tiny_models["bert-st"], dev=data["dev"], head="finetune", pooling="mean",
                strength=1.0, epochs=1, lr=1e-12, batch_size=8, out=out)  # fmt: skip
    texts = [r["text"] for r in rows(8, 300)]
    np.testing.assert_allclose(clf.logits(texts, cache=False)[:, 1] - clf.logits(texts, cache=False)[:, 0],
                               probe.logits(texts, cache=False)[:, 1], atol=1e-3)  # fmt: skip
    assert (out / "encoder" / "modules.json").is_file() and clf.meta["training"]["pooling"] == "mean"
    loaded = Classifier.load(out)
    np.testing.assert_allclose(loaded.predict_proba(texts, cache=False), clf.predict_proba(texts, cache=False))
    assert emberta.load_encoder(out / "encoder").encode(["a text"]).shape == (1, 32)
    refused(train_cli(tiny_models, data["train"], tmp_path / "x", "--pooling", "mean"), "--pooling", "finetune")


def test_finetune_resumes_an_interrupted_run(tiny_models, data, tmp_path, monkeypatch):
    import transformers

    save_checkpoint = transformers.Trainer._save_checkpoint

    def save_then_die(self, *args, **kwargs):  # stands in for a kill right after the first checkpoint
        save_checkpoint(self, *args, **kwargs)
        raise KeyboardInterrupt

    out, options = tmp_path / "ftr", {"head": "finetune", "epochs": 2, "batch_size": 8, "dev": data["dev"]}
    with monkeypatch.context() as patch:
        patch.setattr(transformers.Trainer, "_save_checkpoint", save_then_die)
        with pytest.raises(KeyboardInterrupt):
            train(data["train"], model=tiny_models["bert-st"], out=out, **options)
    assert not out.exists() and list(tmp_path.glob(".ftr.checkpoints/checkpoint-2"))
    clf = train(data["train"], model=tiny_models["bert-st"], out=out, resume=True, **options)
    assert clf.meta["training"]["resumed"] and clf.meta["training"]["steps"] == 4  # 16 texts / 8, 2 epochs
    assert Classifier.load(out).predict(["happy great day"]) and not list(tmp_path.glob(".ftr.checkpoints"))


def test_text_pairs_with_a_frozen_head(tiny_models, tmp_path, monkeypatch):
    monkeypatch.setenv("EMBERTA_CACHE", str(tmp_path / "cache"))
    records = [{"a": r["text"], "b": rows(16, 50)[(i + i % 2) % 16]["text"], "same": str(i % 2)}
               for i, r in enumerate(rows(16))]  # fmt: skip
    path = write(tmp_path / "pairs.jsonl", records)
    clf = train(path, model=tiny_models["bert-st"], text_field="a", text_pair_field="b", label_field="same",
                out=tmp_path / "p")  # fmt: skip
    assert clf.head.weights[0].shape[1] == 4 * 32  # [u, v, |u - v|, u * v]
    count = predict_file(Classifier.load(tmp_path / "p"), path, tmp_path / "p.jsonl", text_field="a")
    assert count == 16


def test_setfit_few_shot(tiny_models, data, tmp_path):
    clf = train(data["train"], model=tiny_models["bert-st"], head="setfit", samples_per_label=4,
                setfit_iterations=1, out=tmp_path / "sf")  # fmt: skip
    assert (tmp_path / "sf" / "encoder" / "modules.json").is_file()
    loaded = Classifier.load(tmp_path / "sf")
    np.testing.assert_allclose(loaded.predict_proba(["good day"]), clf.predict_proba(["good day"]), atol=1e-6)


def test_contrastive_pairs_follow_the_setfit_recipe():
    from emberta.classify.setfit import contrastive_pairs

    labels = ["a", "a", "b", "b", "c"]
    first, second, target = contrastive_pairs([str(i) for i in range(5)], labels, 3, seed=0)
    assert len(target) == 2 * 3 * 5 and target[:2] == [1.0, 0.0]
    for x, y, t in zip(first, second, target, strict=True):
        assert (labels[int(x)] == labels[int(y)]) == (t == 1.0)


def test_erase_subspace_removes_the_nuisance(tiny_models, tmp_path, monkeypatch):
    pytest.importorskip("concept_erasure")
    monkeypatch.setenv("EMBERTA_CACHE", str(tmp_path / "cache"))
    records = [dict(r, lang="en" if i % 3 else "fr") for i, r in enumerate(rows(24))]
    for r in records:
        r["text"] = ("le " if r["lang"] == "fr" else "the ") + r["text"]
    clf = train(
        write(tmp_path / "t.jsonl", records), model=tiny_models["bert-st"], erase_field="lang", out=tmp_path / "e"
    )
    erase = json.loads((tmp_path / "e" / "classifier.json").read_text())["erase"]
    assert erase["field"] == "lang" and erase["leakage_after"] <= erase["leakage_before"]
    assert Classifier.load(tmp_path / "e").predict(["the good day"]) == clf.predict(["the good day"])


def test_leace_makes_the_nuisance_linearly_unreadable():
    pytest.importorskip("concept_erasure")
    from emberta.classify.erase import fit_eraser, linear_leakage

    rng = np.random.default_rng(0)
    nuisance = ["a" if i % 2 else "b" for i in range(300)]
    x = rng.normal(size=(300, 8)).astype(np.float32)
    x[:, 0] += np.where(np.array(nuisance) == "a", 3.0, -3.0)  # the nuisance lives along one direction
    erased = fit_eraser(x, nuisance).apply(x)
    means = [erased[np.array(nuisance) == v].mean(axis=0) for v in ("a", "b")]
    np.testing.assert_allclose(means[0], means[1], atol=1e-4)  # LEACE: equal class-conditional means
    assert linear_leakage(x, nuisance) > 0.95 and linear_leakage(erased, nuisance) < 0.7
    np.testing.assert_allclose(erased[:, 1:], x[:, 1:], atol=0.5)  # the rest barely moves


# ---- bad input: exit 2, one line naming file:line, nothing written -----------------------------------------
def refused(result, *needles):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def train_cli(tiny_models, train_file, out, *extra):
    return run("classify", "train", "--train", train_file, "--model", tiny_models["bert-st"], "--out", out, *extra)


@pytest.mark.parametrize(
    ("records", "extra", "needles"),
    [
        ([{"text": "a", "label": "x"}, {"text": "b"}], [], ["t.jsonl:2:", "label"]),
        ([{"text": "a", "label": "x"}, {"text": "b", "label": " "}], [], ["t.jsonl:2:", "empty"]),
        ([{"text": "a", "label": "x"}, {"text": "b", "label": "x"}], [], ["t.jsonl", "one class only"]),
        (
            [{"text": "a", "label": "x"}, {"text": "b", "label": "y"}],
            ["--samples-per-label", 2],
            ["t.jsonl", "--samples-per-label 2", "'x' has 1"],
        ),
        ([{"text": "a", "label": ["x"]}, {"text": "b", "label": "y"}], ["--multi-label"], ["t.jsonl:2:", "list"]),
        ([{"text": "a", "label": "x"}, {"txt": "b", "label": "y"}], [], ["t.jsonl:2:", "'text'"]),
    ],
    ids=["missing-label", "empty-label", "one-class", "too-few-per-label", "multi-label-not-list", "missing-text"],
)
def test_bad_training_files_are_refused(tiny_models, tmp_path, monkeypatch, records, extra, needles):
    monkeypatch.setenv("EMBERTA_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    refused(train_cli(tiny_models, write(tmp_path / "t.jsonl", records), out, *extra), *needles)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_existing_output_newer_format_unseen_label_and_missing_text_field(tiny_models, data, tmp_path):
    out = tmp_path / "clf"
    assert train_cli(tiny_models, data["train"], out, "-q").exit_code == 0
    before = (out / "classifier.json").read_text()
    refused(train_cli(tiny_models, data["train"], out), "already exists", "--overwrite")
    assert (out / "classifier.json").read_text() == before
    # a label seen only in test: reported, not a crash
    test = write(tmp_path / "unseen.jsonl", [*rows(4, 300), {"text": "meh", "label": "neutral"}])
    result = run("classify", "eval", out, "--test", test, "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output[result.output.index("{") :])
    assert metrics["unseen_labels"] == ["neutral"] and metrics["per_class"]["neutral"]["support"] == 1
    # a predict file without the text field
    bad = write(tmp_path / "bad.jsonl", [{"text": "ok"}, {"body": "no text"}])
    refused(run("classify", "predict", out, bad, "--out", tmp_path / "p.jsonl"), "bad.jsonl:2:", "'text'")
    assert not (tmp_path / "p.jsonl").exists()
    # a folder from a newer format version
    meta = json.loads(before)
    meta["format_version"] = 99
    (out / "classifier.json").write_text(json.dumps(meta))
    refused(run("classify", "predict", out, data["test"], "--out", tmp_path / "p.jsonl"), "format version 99",
            "upgrade")  # fmt: skip


def test_serve_classify_matches_the_classifier(tiny_models, data, tmp_path):
    from fastapi.testclient import TestClient

    import emberta
    from emberta.serve import create_app

    clf = train(data["train"], model=tiny_models["bert-st"], dev=data["dev"], out=tmp_path / "c")
    encoder = emberta.load_encoder(tiny_models["bert-st"])
    texts = ["happy great day", "awful sad day"]
    with TestClient(create_app(encoder, classifier=Classifier.load(tmp_path / "c"))) as client:
        answer = client.post("/v1/classify", json={"input": texts})
        assert answer.status_code == 200, answer.text
        rows = answer.json()["data"]
        assert [r["label"] for r in rows] == clf.predict(texts)
        np.testing.assert_allclose([[r["probabilities"][n] for n in clf.labels] for r in rows],
                                   clf.predict_proba(texts), atol=1e-5)  # fmt: skip
        assert client.post("/v1/classify", json={"input": []}).status_code == 422
        assert client.post("/v1/classify", json={"input": "x", "k": 1}).status_code == 400
    with TestClient(create_app(encoder)) as client:
        assert client.post("/v1/classify", json={"input": "x"}).json()["error"]["code"] == "no_classifier"
