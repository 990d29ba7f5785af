"""Vocabulary expansion (`emberta train expand-vocab`) and pseudo-log-likelihood scoring (`emberta score-mlm`)
on tiny BERT and RoBERTa masked LMs built from conftest's tiny models."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from emberta.cli.main import app

runner = CliRunner()

NEW_CORPUS = [
    "Die Katze schläft auf dem Sofa und der Hund spielt im Garten.",
    "Der Hund bellt laut, die Katze schläft weiter auf dem Sofa.",
    "Im Garten spielen die Kinder mit dem Hund und der Katze.",
    "Das Wetter ist heute schön, die Kinder spielen im Garten.",
    "Die Suchmaschine findet Dokumente zu jeder Anfrage schnell.",
] * 4
SCORED = [
    "Cats sleep most of the day.",
    "Search engines rank documents by relevance to a query.",
    "dogs like to play outside",
    "",
]


def _cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def _with_head(source: Path, out: Path) -> Path:
    """`source` re-saved as a masked LM (its MLM head newly initialised, seeded, tied)."""
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    torch.manual_seed(3)
    AutoModelForMaskedLM.from_pretrained(source).save_pretrained(out)
    AutoTokenizer.from_pretrained(source).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def mlm_models(tiny_models, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("mlm")
    return {name: _with_head(tiny_models[name], root / name) for name in ("bert", "roberta")}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "de.txt"
    path.write_text("\n".join(NEW_CORPUS) + "\n", encoding="utf-8")
    return path


def _plain_pll(folder: Path, texts: list[str]) -> list[tuple[float, int]]:
    """The PLL by the definition: every token masked alone, one forward pass each."""
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForMaskedLM.from_pretrained(folder).eval()
    special = set(tokenizer.all_special_ids)
    results = []
    for text in texts:
        ids = tokenizer(text)["input_ids"]
        total, count = 0.0, 0
        for position, token in enumerate(ids):
            if token in special:
                continue
            masked = list(ids)
            masked[position] = tokenizer.mask_token_id
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([masked])).logits[0, position]
            total += float(torch.log_softmax(logits, dim=-1)[token])
            count += 1
        results.append((total, count))
    return results


@pytest.mark.parametrize("name", ["bert", "roberta"])
def test_score_mlm_matches_the_one_token_at_a_time_loop(mlm_models, name):
    from emberta.pretrain.pll import score_mlm

    scores = score_mlm(mlm_models[name], SCORED, batch_size=5)  # batches cut across texts
    expected = _plain_pll(mlm_models[name], SCORED)
    for score, (pll, count) in zip(scores.texts, expected, strict=True):
        assert score.tokens == count
        assert score.pll == pytest.approx(pll, abs=1e-4)
    assert scores.texts[-1].tokens == 0 and scores.texts[-1].pll == 0.0
    total = sum(p for p, _ in expected) / sum(c for _, c in expected)
    assert scores.pseudo_perplexity == pytest.approx(math.exp(-total), rel=1e-5)


def test_windows_cover_each_token_once_with_context():
    from emberta.pretrain.pll import windows

    for n, width in [(5, 8), (8, 8), (9, 8), (30, 8), (31, 7), (100, 16)]:
        plan = windows(n, width)
        scored = sorted(i for _, positions in plan for i in positions)
        assert scored == list(range(n))
        for start, positions in plan:
            assert start >= 0 and start + min(width, n) <= n
            for i in positions:
                assert start <= i < start + width
                # at least a quarter window of context on each side, where the text has it
                assert i - start >= min(i, width // 4) - 1
                assert start + width - 1 - i >= min(n - 1 - i, width // 4) - 1


def test_long_texts_are_windowed_or_refused(mlm_models):
    from emberta.errors import InputError
    from emberta.pretrain.pll import load_masked_lm, score_mlm

    long_text = " ".join(SCORED[:3] * 2)
    lm = load_masked_lm(mlm_models["bert"], max_length=20)  # 18 text tokens a window
    scores = score_mlm(lm, [long_text, SCORED[2]])
    assert scores.texts[0].windows > 1 and scores.windowed == 1
    assert scores.texts[0].tokens == len(lm.tokenizer(long_text, add_special_tokens=False)["input_ids"])
    with pytest.raises(InputError, match=r"1 of 2 texts are longer than the model.s 18 text tokens"):
        score_mlm(lm, [long_text, SCORED[2]], long_texts="refuse")


def _rows(folder: Path):
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    model = AutoModelForMaskedLM.from_pretrained(folder)
    return model, AutoTokenizer.from_pretrained(folder)


@pytest.mark.parametrize("name", ["bert", "roberta"])
def test_expand_vocab_inits_and_ties(mlm_models, corpus, tmp_path, name):
    import torch

    from emberta.pretrain.vocab import expand_vocab

    old_model, old_tokenizer = _rows(mlm_models[name])
    old = old_model.get_input_embeddings().weight.detach()
    results = {}
    for init in ("mean", "subword-mean", "random"):
        summary = expand_vocab(mlm_models[name], [corpus], add=6, init=init, out=tmp_path / init)
        model, tokenizer = _rows(tmp_path / init)
        weight = model.get_input_embeddings().weight.detach()
        assert summary["added"] == 6 and len(weight) == len(old) + 6 == len(tokenizer)
        assert model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
        assert torch.equal(weight[: len(old)], old)  # the old rows are kept
        results[init] = (weight[len(old) :], tokenizer)
    new_rows, tokenizer = results["mean"]
    assert torch.allclose(new_rows, old.mean(0).expand_as(new_rows), atol=1e-6)
    new_rows, tokenizer = results["subword-mean"]
    for k, token_id in enumerate(range(len(old), len(old) + 6)):
        token = tokenizer.convert_ids_to_tokens(token_id)
        pieces = [piece.id for piece in old_tokenizer.backend_tokenizer.model.tokenize(token)]
        assert len(pieces) >= 1
        assert torch.allclose(new_rows[k], old[pieces].mean(0), atol=1e-6)
    new_rows, _ = results["random"]
    assert 0.005 < float(new_rows.std()) < 0.05  # initializer_range 0.02
    # the added tokens are used: the corpus takes fewer tokens
    text = NEW_CORPUS[0]
    assert len(tokenizer(text)["input_ids"]) < len(old_tokenizer(text)["input_ids"])


def test_sampled_rows_follow_the_old_mean_and_covariance():
    import torch

    from emberta.pretrain.vocab_init import SampledInit

    generator = torch.Generator().manual_seed(0)
    mixing = torch.randn(8, 8, generator=generator)
    old = torch.randn(500, 8, generator=generator) @ mixing + 3.0
    rows = SampledInit().rows(old, [[0]] * 20000, generator=generator, init_std=0.02)
    old_np, rows_np = old.double().numpy(), rows.double().numpy()
    assert np.allclose(rows_np.mean(0), old_np.mean(0), atol=0.1 * old_np.std())
    cov_old, cov_new = np.cov(old_np, rowvar=False), np.cov(rows_np, rowvar=False)
    assert np.linalg.norm(cov_new - cov_old) / np.linalg.norm(cov_old) < 0.05


def test_expanded_sentence_transformers_model_encodes(tiny_models, corpus, tmp_path):
    out = tmp_path / "expanded"
    result = _cli("train", "expand-vocab", "--from", tiny_models["bert-st"], "--corpus", corpus, "--add", "5",
                  "--init", "sampled", "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (out / "1_Pooling" / "config.json").is_file()
    vectors = tmp_path / "v.npy"
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(NEW_CORPUS[:3]) + "\n", encoding="utf-8")
    result = _cli("encode", texts, "--model", out, "--out", vectors)
    assert result.exit_code == 0, result.output
    assert np.load(vectors).shape == (3, 32)
    scored = tmp_path / "scores.jsonl"
    result = _cli("score-mlm", out, texts, "--out", scored)  # the expanded model has an MLM head now
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in scored.read_text().splitlines()]
    assert len(rows) == 3 and all(row["tokens"] > 0 and row["pll"] < 0 for row in rows)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["texts"] == 3 and summary["pseudo_perplexity"] > 1


def _one_line_error(result, *fragments):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_bad_inputs_of_expand_vocab(tiny_models, mlm_models, corpus, tmp_path):
    from transformers import GPT2Config, GPT2Model

    no_embeddings = tmp_path / "gpt2"
    GPT2Model(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=100, n_positions=32)).save_pretrained(no_embeddings)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (no_embeddings / name).write_bytes((tiny_models["bert"] / name).read_bytes())
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n\n", encoding="utf-8")
    out = tmp_path / "out"
    base = ["train", "expand-vocab", "--out", out]
    _one_line_error(_cli(*base, "--from", no_embeddings, "--corpus", corpus, "--add", 3), "no word embeddings")
    _one_line_error(_cli(*base, "--from", mlm_models["bert"], "--corpus", empty, "--add", 3), "no text")
    _one_line_error(_cli(*base, "--from", mlm_models["bert"], "--corpus", corpus, "--add", 0), "--add 0")
    result = _cli(*base, "--from", mlm_models["bert"], "--corpus", corpus, "--add", 100000)
    _one_line_error(result, "--add 100000", "offers only")
    _one_line_error(_cli(*base, "--from", mlm_models["bert"], "--corpus", corpus, "--add", 3, "--init", "zeros"),
                    "unknown --init")  # fmt: skip
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_bad_inputs_of_score_mlm(tiny_models, mlm_models, tmp_path):
    texts = tmp_path / "texts.jsonl"
    texts.write_text(json.dumps({"text": SCORED[0]}) + "\n" + json.dumps({"body": SCORED[1]}) + "\n", "utf-8")
    out = tmp_path / "scores.jsonl"
    _one_line_error(_cli("score-mlm", mlm_models["bert"], texts, "--out", out), f"{texts}:2", "no field 'text'")
    _one_line_error(_cli("score-mlm", tiny_models["bert"], texts, "--out", out), "no masked-LM head")
    _one_line_error(_cli("score-mlm", "default", texts, "--out", out), "no masked-LM head")
    long_texts = tmp_path / "long.txt"
    long_texts.write_text(" ".join(SCORED[:3] * 10) + "\n" + SCORED[0] + "\n", encoding="utf-8")
    _one_line_error(_cli("score-mlm", mlm_models["bert"], long_texts, "--out", out, "--long-text", "refuse"),
                    "1 of 2 texts are longer", f"{long_texts}:1")  # fmt: skip
    assert not out.exists()
    result = _cli("score-mlm", mlm_models["bert"], long_texts, "--out", out)  # windowed by default
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["windows"] > 1 for line in out.read_text().splitlines()] == [True, False]
