"""`emberta tag`: a tiny BERT tagger trains, predicts and scores through the CLI; its folder loads in the
transformers pipeline; the entity scores match seqeval; long sentences are split into windows with stride;
/v1/tag answers through the test client; the probe task of `emberta eval` matches a direct computation; and
every bad input the issue lists exits 2 with one line, leaving nothing behind."""

from __future__ import annotations

import itertools
import json
import random

import numpy as np
import pytest
from typer.testing import CliRunner

from emberta.cli.main import app

runner = CliRunner()
ENTITIES = {"fox": "animal", "dog": "animal", "cats": "animal", "bert": "model", "roberta": "model",
            "guitar": "thing", "book": "thing"}  # fmt: skip
FILLER = ["the", "quick", "brown", "jumps", "over", "a", "man", "is", "playing", "on", "street", "she", "reads"]


def sentence(rng: random.Random, extra: dict | None = None) -> dict:
    """A few filler words around entities; "lazy dog" is a two-word animal; `extra` adds other entity words."""
    kinds = dict(ENTITIES, **(extra or {}))
    tokens, tags = [], []
    for _ in range(rng.randint(3, 7)):
        if rng.random() < 0.3:
            word = rng.choice(sorted(kinds))
            tokens.append(word)
            tags.append(f"B-{kinds[word]}")
        elif rng.random() < 0.1:
            tokens += ["lazy", "dog"]
            tags += ["B-animal", "I-animal"]
        else:
            tokens.append(rng.choice(FILLER))
            tags.append("O")
    return {"tokens": tokens, "tags": tags}


def write(path, rows) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def read_rows(path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    rng = random.Random(0)
    root = tmp_path_factory.mktemp("tag-data")
    train = [sentence(rng) for _ in range(24)]
    train.append({"tokens": ["a", "guitar", "sound"], "tags": ["O", "I-thing", "O"]})  # broken: I- after O
    test = [sentence(rng, {"west": "place"}) for _ in range(8)]
    test.append({"tokens": ["the", "west"], "tags": ["O", "B-place"]})
    return {"train": write(root / "train.jsonl", train), "dev": write(root / "dev.jsonl", [sentence(rng) for _ in
            range(6)]), "test": write(root / "test.jsonl", test), "root": root}  # fmt: skip


@pytest.fixture(scope="module")
def tagger_dir(tiny_models, files):
    out = files["root"] / "tagger"
    result = run("tag", "train", "--model", tiny_models["bert"], "--train", files["train"], "--dev", files["dev"],
                 "--test", files["test"], "--out", out, "--epochs", 2, "--batch-size", 8, "--lr", 1e-3,
                 "--max-length", 32, "--loss", "weighted-ce")  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def test_train_writes_a_self_describing_folder(tagger_dir):
    meta = json.loads((tagger_dir / "tagger.json").read_text())
    assert meta["format_version"] == 1 and meta["scheme"] == "bio" and meta["tags"][0] == "O"
    assert set(meta["tags"]) == {"O", "B-animal", "I-animal", "B-model", "B-thing"}  # I-thing repaired
    assert meta["repaired_sentences"]["train"] == 1  # the I-thing after O, read as B-thing
    assert meta["window"] == 32 and len(meta["training"]["class_weights"]) == len(meta["tags"])
    # early stopping read dev F1 from the Trainer's predictions; the reloaded best model must score the same
    history = meta["training"]["dev_history"]
    best = max(history, key=lambda e: e["f1"])  # the first best epoch, as the Trainer keeps it
    assert len(history) == 2 and best["f1"] == pytest.approx(meta["dev_metrics"]["f1"])
    assert best["token_accuracy"] == pytest.approx(meta["dev_metrics"]["token_accuracy"])
    config = json.loads((tagger_dir / "config.json").read_text())
    assert config["id2label"] == {str(i): tag for i, tag in enumerate(meta["tags"])}
    assert not list(tagger_dir.glob(".checkpoints")) and not list(tagger_dir.parent.glob(".tagger.tagger.*"))


def test_predict_and_eval_cli_agree_with_seqeval(tagger_dir, files, tmp_path):
    from seqeval.metrics import f1_score, precision_score

    out = tmp_path / "tags.jsonl"
    result = run("tag", "predict", tagger_dir, files["test"], "--out", out, "-q")
    assert result.exit_code == 0, result.output
    predicted = [json.loads(line) for line in out.read_text().splitlines()]
    truth = read_rows(files["test"])
    assert [p["tokens"] for p in predicted] == [t["tokens"] for t in truth]
    assert all(len(p["tags"]) == len(p["tokens"]) for p in predicted)
    result = run("tag", "eval", tagger_dir, "--test", files["test"])
    assert result.exit_code == 0, result.output
    assert "never saw in training: 'B-place'" in result.output  # a tag only in test: reported, no crash
    metrics = json.loads((tagger_dir / "metrics.json").read_text())
    y_true, y_pred = [t["tags"] for t in truth], [p["tags"] for p in predicted]
    assert metrics["f1"] == pytest.approx(f1_score(y_true, y_pred))
    assert metrics["precision"] == pytest.approx(precision_score(y_true, y_pred))
    assert metrics["unseen_tags"] == ["B-place"] and metrics["per_type"]["place"]["recall"] == 0.0
    tokens = sum(len(t) for t in y_true)
    pairs = [(a, b) for t, p in zip(y_true, y_pred, strict=True) for a, b in zip(t, p, strict=True)]
    assert metrics["token_accuracy"] == pytest.approx(sum(a == b for a, b in pairs) / tokens)
    assert sum(map(sum, metrics["confusion"]["matrix"])) == tokens


def test_raw_text_gives_character_offsets(tagger_dir, tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("the quick fox, and  BERT!\nsee the lazy dog\n", encoding="utf-8")
    out = tmp_path / "tags.jsonl"
    result = run("tag", "predict", tagger_dir, texts, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    lines = texts.read_text().splitlines()
    assert [t["text"] for t in rows[0]["tokens"]] == ["the", "quick", "fox", ",", "and", "BERT", "!"]
    for row, text in zip(rows, lines, strict=True):
        assert all(text[t["start"] : t["end"]] == t["text"] for t in row["tokens"])
        assert all(text[e["start"] : e["end"]] == e["text"] for e in row["entities"])


def test_folder_loads_in_the_transformers_pipeline(tagger_dir):
    import transformers

    from emberta.classify.tagging import Tagger

    text = "the quick fox jumps over the lazy dog on bert street"
    pipe = transformers.pipeline("token-classification", model=str(tagger_dir), aggregation_strategy="first",
                                 device="cpu")  # fmt: skip
    theirs = [(e["entity_group"], e["start"], e["end"]) for e in pipe(text)]
    ours = [(e["type"], e["start"], e["end"]) for e in Tagger.load(tagger_dir).predict_text([text])[0]["entities"]]
    assert theirs == ours


def test_entity_scores_match_seqeval_on_random_sequences():
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    from emberta.classify.tagging.metrics import entity_metrics

    rng = random.Random(1)
    for scheme, prefixes in (("bio", "BI"), ("bioes", "BIES")):
        tags = ["O"] + [f"{p}-{t}" for p in prefixes for t in ("PER", "LOC", "ORG")]
        y_true = [[rng.choice(tags) for _ in range(rng.randint(1, 12))] for _ in range(200)]  # broken ones too
        y_pred = [[t if rng.random() < 0.7 else rng.choice(tags) for t in row] for row in y_true]
        ours = entity_metrics(y_true, y_pred)
        assert ours["f1"] == pytest.approx(f1_score(y_true, y_pred)), scheme
        assert ours["precision"] == pytest.approx(precision_score(y_true, y_pred))
        assert ours["recall"] == pytest.approx(recall_score(y_true, y_pred))
        report = classification_report(y_true, y_pred, output_dict=True, zero_division=0)
        assert ours["macro_f1"] == pytest.approx(report["macro avg"]["f1-score"])
        for kind in ("PER", "LOC", "ORG"):
            assert ours["per_type"][kind]["f1"] == pytest.approx(report[kind]["f1-score"])
            assert ours["per_type"][kind]["support"] == report[kind]["support"]


def test_repair_and_spans_by_hand():
    from emberta.classify.tagging.schemes import entity_spans, repair

    assert entity_spans(["O", "I-x", "I-x", "B-y", "I-x"]) == [("x", 1, 3), ("y", 3, 4), ("x", 4, 5)]
    assert repair(["O", "I-x", "I-x", "B-y", "I-x"], "bio") == (["O", "B-x", "I-x", "B-y", "B-x"], 1)
    assert repair(["B-x", "I-x", "O"], "bio") == (["B-x", "I-x", "O"], None)
    assert repair(["B-x", "O", "I-x"], "bioes") == (["S-x", "O", "S-x"], 0)


def test_long_sentences_are_split_into_windows_with_stride(tiny_models):
    from transformers import AutoTokenizer

    from emberta.classify.tagging.alignment import IGNORE, encode_words

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_models["bert"]))
    rng = random.Random(2)
    words = [rng.choice([*FILLER, "mathematics", "transformer", "embeddings"]) for _ in range(60)]
    labels = [list(range(60))]
    windows, stats = encode_words(tokenizer, [words, words[:3]], max_length=16, stride=4)
    assert stats.split_sentences == 1 and stats.windows == len(windows) > 5
    assert all(len(w.input_ids) <= 16 for w in windows)
    long = [w for w in windows if w.sentence == 0]
    labelled = sorted(label for w in long for label in w.labels([*labels, [0, 1, 2]]) if label != IGNORE)
    assert labelled == list(range(60))  # every word labelled once, on its first sub-word, none cut off
    full = tokenizer(words, is_split_into_words=True, add_special_tokens=False)
    firsts = {w: full["input_ids"][i] for i, w in reversed(list(enumerate(full.word_ids())))}
    for window in long:
        for word, position in window.first_positions().items():
            assert window.input_ids[position] == firsts[word]
    for a, b in itertools.pairwise(long):  # consecutive windows share words (the stride) and hand ownership on
        assert min(w for w in b.word_ids if w is not None) <= max(w for w in a.word_ids if w is not None)
        assert a.own_end == b.own_start


def test_long_input_and_empty_words_keep_their_positions(tagger_dir):
    from emberta.classify.tagging import Tagger

    tagger = Tagger.load(tagger_dir)
    long = ["the", "quick", "fox"] * 20  # 60 words: several windows of 32 tokens
    odd = ["the", "\u200b", "fox", "", "dog"]  # a zero-width space and an empty word
    tags = tagger.predict_tokens([long, odd, []])
    assert [len(t) for t in tags] == [60, 5, 0]
    from emberta.classify.tagging.alignment import encode_words

    windows, stats = encode_words(tagger.loaded()[1], [odd], max_length=32, stride=8)
    assert stats.unknown_words == 2 and sorted(windows[0].first_positions()) == [0, 1, 2, 3, 4]


def test_serve_tag_endpoint(tagger_dir, tiny_models):
    from fastapi.testclient import TestClient

    import emberta
    from emberta.classify.tagging import Tagger
    from emberta.serve import ServeSettings, create_app

    encoder = emberta.load_encoder(tiny_models["bert-st"])
    tagger = Tagger.load(tagger_dir)
    settings = ServeSettings(api_key="k", max_inputs=2)
    with TestClient(create_app(encoder, settings=settings, tagger=tagger)) as client:
        auth = {"Authorization": "Bearer k"}
        answer = client.post("/v1/tag", json={"input": ["the lazy dog", "bert reads"]}, headers=auth)
        assert answer.status_code == 200, answer.text
        data = answer.json()["data"]
        expected = tagger.predict_text(["the lazy dog", "bert reads"])
        assert [d["tokens"] for d in data] == [e["tokens"] for e in expected]
        assert [d["entities"] for d in data] == [e["entities"] for e in expected]
        words = client.post("/v1/tag", json={"tokens": [["the", "fox"]]}, headers=auth).json()["data"][0]
        assert [t["tag"] for t in words["tokens"]] == tagger.predict_tokens([["the", "fox"]])[0]
        assert client.post("/v1/tag", json={"input": "x"}).status_code == 401
        assert client.post("/v1/tag", json={"input": ["a", "b", "c"]}, headers=auth).status_code == 413
        assert client.post("/v1/tag", json={"tokens": [[]]}, headers=auth).status_code == 422
        assert client.post("/v1/tag", json={"input": "a", "tokens": [["a"]]}, headers=auth).status_code == 422
    with TestClient(create_app(encoder)) as client:
        assert client.post("/v1/tag", json={"input": "x"}).json()["error"]["code"] == "no_tagger"


def test_eval_probe_matches_a_direct_computation(tiny_models, files):
    import torch
    from seqeval.metrics import f1_score
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from transformers import AutoModel, AutoTokenizer

    import emberta
    from emberta.tasks.registry import adhoc_task

    spec = adhoc_task("token-classification", train=files["train"], test=files["dev"], name="tiny-ner")
    result = emberta.evaluate(tiny_models["bert-st"], [spec], cache=False)[0]
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_models["bert"]))
    model = AutoModel.from_pretrained(str(tiny_models["bert"])).eval()

    def vectors(rows):
        out = []
        for row in rows:
            encoded = tokenizer(row["tokens"], is_split_into_words=True, return_tensors="pt")
            with torch.inference_mode():
                hidden = model(**encoded).last_hidden_state[0].numpy()
            ids = encoded.word_ids()
            out.append(np.stack([hidden[ids.index(w)] for w in range(len(row["tokens"]))]))
        return out

    train = read_rows(files["train"])
    train[-1]["tags"] = ["O", "B-thing", "O"]  # as read: repaired
    dev = read_rows(files["dev"])
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=200, random_state=42))
    probe.fit(np.concatenate(vectors(train)), [t for row in train for t in row["tags"]])
    flat = list(probe.predict(np.concatenate(vectors(dev))))
    predicted = [[flat.pop(0) for _ in row["tags"]] for row in dev]
    assert result.main_score == pytest.approx(f1_score([row["tags"] for row in dev], predicted), abs=1e-6)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"tokens": ["a", "b"], "tags": ["O"]}], "train.jsonl:2: 2 tokens but 1 tags"),
        ([{"tokens": [], "tags": []}], "train.jsonl:2: a sentence with no tokens"),
        ([{"tokens": ["a", "b"], "tags": ["O", "I-x"]}], "train.jsonl:2: tag 'I-x' at token 2 after 'O' breaks"),
    ],
)
def test_bad_input_exits_2_naming_the_line(tiny_models, tmp_path, rows, message):
    train = write(tmp_path / "train.jsonl", [{"tokens": ["the", "fox"], "tags": ["O", "B-animal"]}, *rows])
    out = tmp_path / "out"
    result = run("tag", "train", "--model", tiny_models["bert"], "--train", train, "--out", out, "--strict", "-q")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output
    assert not out.exists() and not list(tmp_path.glob(".out.*"))


def test_conll_files_and_unreadable_taggers(tmp_path):
    from emberta.classify.tagging import read_tagged

    conll = tmp_path / "x.conll"
    conll.write_text("-DOCSTART- O\n\nEmpire B-loc\nState I-loc\n\nhi O\nthere\n", encoding="utf-8")
    with pytest.raises(Exception, match=r"x.conll:7: one column"):
        read_tagged(conll)
    conll.write_text("Empire\tB-loc\nState\tI-loc\n\nhi\tO\n", encoding="utf-8")
    data = read_tagged(conll)
    assert data.tokens == [["Empire", "State"], ["hi"]] and data.lines == [1, 4] and data.scheme == "bio"
    result = run("tag", "eval", tmp_path, "--test", conll)
    assert result.exit_code == 2 and "not a tagger folder" in result.output


def test_windows_fit_the_position_embeddings():
    from types import SimpleNamespace

    from emberta.classify.tagging.options import model_positions

    roberta = SimpleNamespace(max_position_embeddings=66, model_type="roberta", pad_token_id=1)
    assert model_positions(SimpleNamespace(model_max_length=512), roberta) == 64  # positions start after pad id
    bert = SimpleNamespace(max_position_embeddings=128, model_type="bert")
    assert model_positions(SimpleNamespace(model_max_length=10**30), bert) == 128  # "no limit" tokenizers
    assert model_positions(SimpleNamespace(model_max_length=64), bert) == 64
