"""Training recipes beyond the basic losses (tiny models, a few steps each): cached MNRL, GIST, SimCSE,
distillation into a smaller student, 2D Matryoshka and Starbucks, the hardness-weighted InfoNCE gradient, hard
negative mining (API and `emberta mine-negatives`), BEIR folders as data, evaluation during training with the
best checkpoint kept, resuming from a checkpoint, YAML configs and bad inputs."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import torch
from transformers import TrainerCallback
from typer.testing import CliRunner

import emberta
from emberta.cli.main import app
from emberta.errors import InputError, OptionError
from emberta.train import MiningOptions, TrainConfig, mine_negatives, train_embed
from emberta.train.losses import StarbucksLoss, starbucks_pairs
from test_train import WORDS, write  # the same toy words and JSONL writer

runner = CliRunner()


@pytest.fixture
def data(tmp_path):
    pairs = write(tmp_path / "pairs.jsonl", [{"anchor": f"what about the {w}", "positive": f"all about the {w}"}
                                             for w in WORDS] * 2)  # fmt: skip
    texts = tmp_path / "texts.txt"
    texts.write_text("".join(f"a story of the {w} and the {v}\n" for w in WORDS for v in WORDS[:3]))
    return {"pairs": pairs, "texts": texts}


@pytest.fixture
def beir(tmp_path):
    """A tiny BEIR folder: each query has one or two relevant documents among 24."""
    folder = tmp_path / "beir"
    (folder / "qrels").mkdir(parents=True)
    write(folder / "corpus.jsonl", [{"_id": f"d{i}-{j}", "title": w, "text": f"notes {j} on the {w}"}
                                    for i, w in enumerate(WORDS) for j in range(2)])  # fmt: skip
    write(folder / "queries.jsonl", [{"_id": f"q{i}", "text": f"tell me about the {w}"} for i, w in enumerate(WORDS)])
    qrels = ["query-id\tcorpus-id\tscore"] + [f"q{i}\td{i}-0\t1" for i in range(len(WORDS))]
    (folder / "qrels" / "train.tsv").write_text("\n".join([*qrels, "q0\td0-1\t1"]) + "\n")
    return folder


def curve(out):
    logged = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [entry["loss"] for entry in logged if "loss" in entry]


def config(tiny_models, out, data, loss, **options):
    settings = dict(model=str(tiny_models["roberta-st"]), data=[str(data)], loss=loss, out=str(out), epochs=10,
                    batch_size=12, lr=1e-3, warmup=0.0, logging_steps=2)  # fmt: skip
    return TrainConfig(**{**settings, **options})


@pytest.mark.parametrize(("loss", "kind", "options"), [
    ("cached-mnrl", "pairs", {"mini_batch_size": 4}),
    ("gist", "pairs", {}),
    ("mnrl", "pairs", {"hardness_strength": 5.0}),
    ("simcse", "texts", {"epochs": 4}),
    ("mse-distill", "texts", {"teacher": "bert-st", "epochs": 4}),
    ("mnrl", "pairs", {"layers": "2d", "matryoshka_dims": [32, 8]}),
    ("mnrl", "pairs", {"layers": "starbucks"}),
])  # fmt: skip
def test_each_recipe_trains_and_its_loss_falls(tiny_models, data, tmp_path, loss, kind, options):
    if "teacher" in options:
        options = {**options, "teacher": str(tiny_models[options["teacher"]])}
    out = tmp_path / "model"
    summary = train_embed(config(tiny_models, out, data[kind], loss, **options))
    losses = curve(out)
    assert summary["steps"] >= 6 and np.mean(losses[-2:]) < np.mean(losses[:2]), losses
    vectors = emberta.load_encoder(out).encode(["all about the fox"], show_progress=False)
    assert vectors.shape == (1, 32) and np.isfinite(vectors).all()
    assert (out / "training-curve.png").stat().st_size > 1000
    saved = json.loads((out / "emberta-train.json").read_text())["config"]
    if options.get("layers") == "starbucks":
        assert saved["starbucks_pairs"] == starbucks_pairs(2, 32) == [[1, 11], [2, 32]]
    assert not (tmp_path / "model.checkpoints").exists()  # removed after a finished run


def test_distillation_student_keeps_fewer_layers_and_moves_towards_the_teacher(tiny_models, data, tmp_path):
    teacher = emberta.load_encoder(tiny_models["bert-st"])
    texts = data["texts"].read_text().splitlines()
    target = teacher.encode(texts, show_progress=False)
    out = tmp_path / "student"
    train_embed(config(tiny_models, out, data["texts"], "mse-distill", teacher=str(tiny_models["bert-st"]),
                       student_layers=1, epochs=8))  # fmt: skip
    assert json.loads((out / "config.json").read_text())["num_hidden_layers"] == 1
    before = emberta.load_encoder(tiny_models["roberta-st"]).encode(texts, show_progress=False)
    after = emberta.load_encoder(out).encode(texts, show_progress=False)
    assert np.mean((after - target) ** 2) < 0.5 * np.mean((before - target) ** 2)


class _Recorder(torch.nn.Module):
    """A stand-in base loss that keeps the sentence embeddings it is given."""

    def __init__(self, model):
        super().__init__()
        self.model, self.seen = model, []

    def forward(self, features, labels):
        embedding = self.model(features[0])["sentence_embedding"]
        self.seen.append(embedding.detach().clone())
        return embedding.sum()


def test_starbucks_loss_scores_each_layer_and_dimension_pair(tiny_models):
    from sentence_transformers import SentenceTransformer

    from emberta.train.student import keep_layers

    model = SentenceTransformer(str(tiny_models["roberta-st"]), device="cpu").eval()
    features = model.tokenize(["all about the fox", "a dog in the street"])
    recorder = _Recorder(model)
    StarbucksLoss(model, recorder, [[1, 8], [2, 32]])([features], None)
    full, shallow = recorder.seen
    with torch.no_grad():
        reference_full = model(model.tokenize(["all about the fox", "a dog in the street"]))["sentence_embedding"]
        one_layer = copy.deepcopy(model)
        keep_layers(one_layer, 1)  # keeps layer 0: the first layer's output
        reference_shallow = one_layer(model.tokenize(["all about the fox", "a dog in the street"]))
    torch.testing.assert_close(full, reference_full)
    assert shallow.shape == (2, 8)
    torch.testing.assert_close(shallow, reference_shallow["sentence_embedding"][:, :8], atol=1e-5, rtol=1e-4)
    assert model.forward.__func__ is type(model).forward  # forward restored


def test_hardness_weighting_scales_each_negatives_gradient_by_its_difficulty():
    """Hardness-weighted InfoNCE: each negative's logit gets + strength * stop_grad(cos), so its softmax weight,
    hence its gradient, is multiplied by exp(strength * cos): harder negatives are pushed away harder, the loss
    stays a softmax cross-entropy, and strength 0 is plain InfoNCE."""
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    generator = torch.Generator().manual_seed(0)
    anchor = torch.randn(1, 16, generator=generator)
    positive = anchor + 0.3 * torch.randn(1, 16, generator=generator)
    hard = anchor + 0.6 * torch.randn(1, 16, generator=generator)  # close to the anchor
    easy = torch.randn(1, 16, generator=generator)

    def gradients(strength):
        columns = [t.clone().requires_grad_(True) for t in (anchor, positive, hard, easy)]
        loss_fn = MultipleNegativesRankingLoss(None, scale=20.0, hardness_mode="hard_negatives",
                                               hardness_strength=strength)  # fmt: skip
        loss = loss_fn.compute_loss_from_embeddings(columns, None)
        loss.backward()
        return loss.item(), [c.grad.norm().item() for c in columns]

    def cos(a, b):
        return torch.nn.functional.cosine_similarity(a, b).item()

    plain_loss, plain = gradients(0.0)
    strength = 5.0
    weighted_loss, weighted = gradients(strength)
    c_hard, c_easy = cos(anchor, hard), cos(anchor, easy)
    assert c_hard > c_easy
    # the hard/easy gradient ratio grows by exactly exp(strength * (c_hard - c_easy))
    growth = (weighted[2] / weighted[3]) / (plain[2] / plain[3])
    assert growth == pytest.approx(math.exp(strength * (c_hard - c_easy)), rel=1e-4)
    assert weighted[2] > plain[2] and weighted_loss > plain_loss
    logits = 20.0 * torch.tensor([cos(anchor, positive), c_hard, c_easy])
    assert plain_loss == pytest.approx(-torch.log_softmax(logits, 0)[0].item(), rel=1e-5)


def test_mining_never_returns_a_positive_of_the_same_anchor(tiny_models):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(tiny_models["roberta-st"]), device="cpu")
    anchors = ["about the fox", "about the fox", "about the dog"]
    positives = ["the fox story", "a fox tale", "the dog story"]
    corpus = positives + [f"the {w} story" for w in WORDS[2:]]
    mined, stats = mine_negatives(model, anchors, positives, corpus, MiningOptions(num_negatives=3))
    assert stats == {"pairs": 3, "rows": 3, "corpus": len(corpus)}
    for i, anchor in enumerate(mined["anchor"]):
        own = {p for a, p in zip(anchors, positives, strict=True) if a == anchor}
        negatives = {mined[f"negative_{k}"][i] for k in (1, 2, 3)}
        assert len(negatives) == 3 and not negatives & own and not negatives & {anchor}


def test_mine_negatives_cli_writes_triplets_that_train(tiny_models, data, beir, tmp_path):
    out = tmp_path / "triplets.jsonl"
    result = runner.invoke(app, ["mine-negatives", "--model", str(tiny_models["roberta-st"]), "--data",
                                 str(data["pairs"]), "--corpus", str(beir), "--out", str(out), "-n", "2"])  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2 * len(WORDS) and set(rows[0]) == {"anchor", "positive", "negative"}
    assert all(r["negative"] != r["positive"] for r in rows)
    summary = train_embed(config(tiny_models, tmp_path / "m", out, "mnrl", max_steps=3))
    assert summary["steps"] == 3
    # bad inputs: a scored file, a missing corpus, a missing output folder
    scored = write(tmp_path / "scored.jsonl", [{"sentence1": "a", "sentence2": "b", "score": 1}])
    for args, message in [
        (["--data", str(scored), "--corpus", str(beir), "--out", str(tmp_path / "t.jsonl")], "mining needs pairs"),
        (["--data", str(data["pairs"]), "--corpus", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "t.jsonl")],
         "no such file"),
        (["--data", str(data["pairs"]), "--corpus", str(beir), "--out", str(tmp_path / "no" / "t.jsonl")],
         "does not exist"),
    ]:  # fmt: skip
        result = runner.invoke(app, ["mine-negatives", "--model", str(tiny_models["roberta-st"]), *args])
        assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "t.jsonl").exists()


def test_beir_folder_trains_with_mined_hard_negatives(tiny_models, beir, tmp_path):
    out = tmp_path / "model"
    summary = train_embed(config(tiny_models, out, beir, "mnrl", hard_negatives=2, epochs=3))
    assert summary["examples"] == len(WORDS) + 1  # one pair per positive judgement
    assert summary["steps"] >= 3
    with pytest.raises(InputError, match="no qrels for split 'dev'"):
        train_embed(config(tiny_models, tmp_path / "m2", beir, "mnrl", beir_split="dev"))
    with pytest.raises(OptionError, match="needs --negatives-from"):
        pairs = write(tmp_path / "p.jsonl", [{"anchor": "a", "positive": "b"}])
        train_embed(config(tiny_models, tmp_path / "m3", pairs, "mnrl", hard_negatives=1))


@pytest.fixture
def sts_dir(tmp_path):
    """A data dir with a small STSBenchmark-shaped task made from the toy words."""
    folder = tmp_path / "eval-data" / "stsbenchmark"
    folder.mkdir(parents=True)
    rows = [{"sentence1": f"what about the {w}", "sentence2": f"all about the {v}", "score": 5.0 if w == v else 0.0}
            for w in WORDS for v in WORDS[:4]]  # fmt: skip
    write(folder / "test.jsonl", rows)
    return folder.parent


def test_evaluation_during_training_keeps_the_best_checkpoint(tiny_models, data, sts_dir, tmp_path):
    out = tmp_path / "model"
    result = runner.invoke(app, ["train", "embed", "--model", str(tiny_models["roberta-st"]), "--data",
                                 str(data["pairs"]), "--max-steps", "8", "--batch-size", "12", "--lr", "1e-3",
                                 "--eval", "STSBenchmark", "--eval-steps", "2", "--data-dir", str(sts_dir), "--out",
                                 str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "emberta-train.json").read_text())["summary"]
    assert f"best {summary['eval_best']:.2f} at step {summary['eval_best_step']} (kept)" in result.output
    history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    scores = {e["step"]: e["eval_mean"] for e in history if "eval_mean" in e}
    assert sorted(scores) == [0, 2, 4, 6, 8]
    assert summary["eval_before"]["mean"] == scores[0]
    assert summary["eval_best"] == max(v for step, v in scores.items() if step > 0)
    kept = emberta.evaluate(emberta.load_encoder(out), ["STSBenchmark"], data_dir=sts_dir, cache=False)
    assert 100 * kept[0].main_score == pytest.approx(summary["eval_best"], abs=1e-3)  # the best one was kept
    with pytest.raises(OptionError, match="unknown task"):
        train_embed(config(tiny_models, tmp_path / "m2", data["pairs"], "mnrl", eval_tasks=["NoSuchTask"]))


class _StopAt(TrainerCallback):
    """Interrupts training after `step` steps, as a Ctrl-C or a killed job would."""

    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise KeyboardInterrupt


def test_a_stopped_run_resumes_from_its_checkpoint_and_ends_where_an_unbroken_run_ends(tiny_models, data, tmp_path):
    options = dict(max_steps=6, save_steps=2, batch_size=6, lr=5e-4)
    whole = tmp_path / "whole"
    train_embed(config(tiny_models, whole, data["pairs"], "mnrl", **options))
    broken = tmp_path / "broken"
    settings = config(tiny_models, broken, data["pairs"], "mnrl", **options)
    with pytest.raises(KeyboardInterrupt):
        train_embed(settings, callbacks=(_StopAt(3),))
    checkpoints = tmp_path / "broken.checkpoints"
    assert not broken.exists() and (checkpoints / "checkpoint-2").is_dir()
    with pytest.raises(OptionError, match="--resume"):  # a fresh start would silently discard them
        train_embed(config(tiny_models, broken, data["pairs"], "mnrl", **options))
    result = runner.invoke(app, ["train", "embed", "--resume", str(checkpoints), "-q"])
    assert result.exit_code == 0, result.output
    saved = json.loads((broken / "emberta-train.json").read_text())
    assert saved["summary"]["steps"] == 6 and not checkpoints.exists()
    a = emberta.load_encoder(whole).encode(WORDS, show_progress=False)
    b = emberta.load_encoder(broken).encode(WORDS, show_progress=False)
    np.testing.assert_allclose(a, b, atol=1e-4)
    result = runner.invoke(app, ["train", "embed", "--resume", str(checkpoints)])
    assert result.exit_code == 2 and f"{checkpoints / 'emberta-train.json'}: no such config file" in result.output


def test_yaml_config_and_bad_options(tiny_models, data, tmp_path):
    model = str(tiny_models["roberta-st"])
    yaml_file = tmp_path / "run.yaml"
    yaml_file.write_text(f"model: {model}\ndata: [{data['texts']}]\nloss: simcse\nmax_steps: 2\nbatch_size: 8\n")
    result = runner.invoke(app, ["train", "embed", "--config", str(yaml_file), "--out", str(tmp_path / "y"), "-q"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "y" / "emberta-train.json").read_text())["config"]["loss"] == "simcse"
    (tmp_path / "bad.yaml").write_text("model: [unclosed\n")
    result = runner.invoke(app, ["train", "embed", "--config", str(tmp_path / "bad.yaml")])
    assert result.exit_code == 2 and "bad.yaml: not a readable JSON or YAML config" in result.output
    (tmp_path / "typed.yaml").write_text("epochs: many\n")
    result = runner.invoke(app, ["train", "embed", "--config", str(tmp_path / "typed.yaml")])
    assert result.exit_code == 2 and "config field 'epochs' is 'many'; expected float" in result.output
    pairs, texts = str(data["pairs"]), str(data["texts"])
    for args, message in [
        (["--data", pairs, "--loss", "mse-distill"], "needs --teacher"),
        (["--data", texts, "--loss", "mnrl"], "texts data, but --loss mnrl"),
        (["--data", pairs, "--loss", "simcse"], "pairs data, but --loss simcse"),
        (["--data", pairs, "--layers", "2d"], "needs --matryoshka"),
        (["--data", pairs, "--starbucks", "--matryoshka", "32,8"], "not --matryoshka"),
        (["--data", pairs, "--starbucks-pairs", "1-8"], "LAYERS:DIMS"),
        (["--data", pairs, "--loss", "cached-mnrl", "--layers", "2d", "--matryoshka", "8"], "cannot be combined"),
        (["--data", pairs, "--loss", "cosent", "--hardness-strength", "5"], "mnrl / cached-mnrl only"),
        (["--data", pairs, "--hard-negatives", "1"], "needs --negatives-from"),
        (["--data", pairs, "--student-layers", "5"], "has 2 layers"),
        (["--data", pairs, "--loss", "mse-distill", "--teacher", "default"], "384 dimensions"),
        (["--data", str(tmp_path / "empty.txt")], "no such training file"),
    ]:  # fmt: skip
        result = runner.invoke(app, ["train", "embed", "--model", model, "--out", str(tmp_path / "o"), *args])
        assert result.exit_code == 2 and message in result.output, (args, result.output)
    (tmp_path / "empty.txt").write_text("\n\n")
    result = runner.invoke(app, ["train", "embed", "--model", model, "--data", str(tmp_path / "empty.txt"),
                                 "--loss", "simcse", "--out", str(tmp_path / "o")])  # fmt: skip
    assert result.exit_code == 2 and "empty.txt: the text file is empty" in result.output
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.checkpoints").exists()
