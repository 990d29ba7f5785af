"""`emberta train tokenizer` and `emberta train mlm`: a tokenizer trained on a tiny corpus, a 2-layer RoBERTa
trained from it for a few steps and loaded back by `emberta encode`, a sentence-transformers model continued;
the masking policy checked statistically, active forgetting, resume; and every bad input (exit 2, one line,
nothing half-written)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from emberta.cli.main import app
from test_classify import refused  # exit 2 and one "error:" line holding each needle

runner = CliRunner()
WORDS = ["alpha", "beta", "gamma", "delta", "river", "mountain", "quickly", "slowly", "reading", "writing", "encoders",
         "sentences", "embedding", "vectors", "language", "masked", "tokens", "tiny"]  # fmt: skip
TINY = {"num_hidden_layers": 2, "hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 64}


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def texts(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(4, 12)))) + f" {i}." for i in range(n)]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    (folder / "train.txt").write_text("\n".join(texts(160)) + "\n", encoding="utf-8")
    (folder / "held.jsonl").write_text("".join(json.dumps({"body": t}) + "\n" for t in texts(24, 1)), "utf-8")
    (folder / "config.json").write_text(json.dumps(TINY), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def tokenizer_dir(corpus):
    out = corpus / "tok"
    result = run("train", "tokenizer", corpus / "train.txt", "--vocab-size", 300, "--held-out", 0.1, "--out", out)
    assert result.exit_code == 0, result.output
    return out


def mlm_args(corpus, tokenizer_dir, out, *extra):
    return ("train", "mlm", "--corpus", corpus / "train.txt", "--tokenizer", tokenizer_dir, "--config",
            corpus / "config.json", "--max-length", 32, "--batch-size", 4, "--eval-blocks", 4, "--out", out,
            *extra)  # fmt: skip


def test_bpe_tokenizer_loads_and_fertility_matches_a_direct_count(tokenizer_dir, corpus):
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    from emberta.pretrain.corpus import held_out

    loaded = AutoTokenizer.from_pretrained(tokenizer_dir)
    assert loaded.convert_ids_to_tokens([0, 1, 2, 3, 4]) == ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    ids = loaded("gamma river 7.")["input_ids"]
    assert ids[0] == loaded.bos_token_id and ids[-1] == loaded.eos_token_id
    assert loaded.decode(ids, skip_special_tokens=True) == "gamma river 7."
    report = json.loads((tokenizer_dir / "emberta-tokenizer.json").read_text())
    heldout = [t for t in texts(160) if held_out(t, 0.1)]
    raw = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))  # independent count: tokenizers directly
    expected = sum(len(raw.encode(t, add_special_tokens=False).ids) for t in heldout) / sum(
        len(t.split()) for t in heldout
    )
    assert report["heldout_texts"] == len(heldout) > 0
    assert report["fertility"]["trained"] == pytest.approx(expected)


@pytest.mark.parametrize("kind", ["wordpiece", "unigram"])
def test_other_tokenizer_kinds_load(kind, corpus, tmp_path):
    from transformers import AutoTokenizer

    out = tmp_path / kind
    result = run("train", "tokenizer", corpus / "train.txt", "--kind", kind, "--vocab-size", 120, "--lowercase",
                 "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    loaded = AutoTokenizer.from_pretrained(out)
    assert loaded.mask_token_id is not None and len(loaded) <= 120
    assert loaded.decode(loaded("Alpha river")["input_ids"], skip_special_tokens=True).replace(" ", "") == "alphariver"


def test_mlm_from_scratch_then_emberta_encode(corpus, tokenizer_dir, tmp_path):
    from emberta import load_encoder

    out = tmp_path / "scratch"
    result = run(*mlm_args(corpus, tokenizer_dir, out, "--max-steps", 4, "--eval-corpus", corpus / "held.jsonl",
                           "--field", "body", "--eval-steps", 2))  # fmt: skip
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "emberta-mlm.json").read_text())
    assert [row["step"] for row in meta["heldout"]] == [0, 2, 4] and meta["steps"] == 4
    assert (out / "loss-curve.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((out / "config.json").read_text())["num_hidden_layers"] == 2
    assert not (tmp_path / "scratch.checkpoints").exists()
    vectors = tmp_path / "v.npy"
    (tmp_path / "in.txt").write_text("alpha river\ngamma delta\n", encoding="utf-8")
    encoded = run("encode", tmp_path / "in.txt", "--model", out, "--out", vectors)
    assert encoded.exit_code == 0, encoded.output
    array = np.load(vectors)
    assert array.shape == (2, 32) and array.dtype == np.float32
    np.testing.assert_allclose(load_encoder(str(out)).encode(["alpha river"])[0], array[0], atol=1e-5)


def test_mlm_continues_a_sentence_transformers_folder(tiny_models, corpus, tmp_path):
    from transformers import AutoModelForMaskedLM

    out = tmp_path / "continued"
    result = run("train", "mlm", "--corpus", corpus / "train.txt", "--from", tiny_models["bert-st"], "--max-steps", 2,
                 "--batch-size", 4, "--max-length", 32, "--eval-blocks", 2, "--freeze-body", "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    model = AutoModelForMaskedLM.from_pretrained(out)
    assert model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    modules = json.loads((out / "modules.json").read_text())
    assert [m["type"].rsplit(".", 1)[-1] for m in modules] == ["Transformer", "Pooling", "Normalize"]
    source_pooling = (tiny_models["bert-st"] / "1_Pooling" / "config.json").read_text()
    assert (out / "1_Pooling" / "config.json").read_text() == source_pooling  # the source's (cls) pooling
    from safetensors.torch import load_file

    before = load_file(tiny_models["bert-st"] / "model.safetensors")
    after = load_file(out / "model.safetensors")
    layer = "encoder.layer.0.attention.self.query.weight"
    torch.testing.assert_close(after["bert." + layer], before[layer])  # frozen body
    assert not torch.equal(after["bert.embeddings.word_embeddings.weight"], before["embeddings.word_embeddings.weight"])


class FakeTokenizer:
    mask_token_id, pad_token_id, all_special_ids = 4, 1, [0, 1, 2, 3, 4]

    def __len__(self):
        return 1000


def test_masking_rate_and_80_10_10():
    from emberta.pretrain.masking import MaskingCollator

    rng = np.random.default_rng(0)
    ids = rng.integers(5, 1000, size=(400, 256))
    ids[:, 0], ids[:, -1] = 0, 2
    attention = np.ones_like(ids, dtype=bool)
    collator = MaskingCollator(FakeTokenizer(), rate=0.4, seed=1)
    inputs, labels = collator.mask(ids, attention)
    chosen = labels != -100
    assert not chosen[:, 0].any() and not chosen[:, -1].any()  # special tokens never chosen
    assert chosen[:, 1:-1].mean() == pytest.approx(0.4, abs=0.005)
    np.testing.assert_array_equal(labels[chosen], ids[chosen])
    masked = inputs[chosen] == 4
    kept = inputs[chosen] == ids[chosen]
    assert masked.mean() == pytest.approx(0.8, abs=0.01)
    assert kept.mean() == pytest.approx(0.1 + 0.1 / 995, abs=0.01)  # a random draw can hit the same token
    assert ((~masked) & (~kept)).mean() == pytest.approx(0.1, abs=0.01)
    assert not np.isin(inputs[chosen & (inputs != 4)], [0, 1, 2, 3]).any()
    np.testing.assert_array_equal(inputs[~chosen], ids[~chosen])


def test_whole_word_masking_takes_words_together():
    from emberta.pretrain.masking import MaskingCollator

    rng = np.random.default_rng(2)
    ids = rng.integers(5, 1000, size=(300, 128))
    starts = rng.random(ids.shape) < 0.4  # words of 1 to several pieces
    starts[:, 0] = True
    collator = MaskingCollator(FakeTokenizer(), rate=0.15, whole_word=True, seed=3)
    _, labels = collator.mask(ids, np.ones_like(ids, dtype=bool), starts)
    chosen = labels != -100
    word = np.cumsum(starts.ravel()) - 1
    per_word = np.bincount(word, weights=chosen.ravel()) / np.bincount(word)
    assert set(np.unique(per_word)) <= {0.0, 1.0}  # all pieces of a word, or none
    assert (per_word == 1.0).mean() == pytest.approx(0.15, abs=0.01)


def test_masking_rejects_rates_outside_0_1():
    from emberta.errors import OptionError
    from emberta.pretrain.masking import MaskingCollator

    for rate in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(OptionError, match="strictly between 0 and 1"):
            MaskingCollator(FakeTokenizer(), rate=rate)


def test_active_forgetting_resets_embeddings_every_k_steps():
    from transformers import RobertaConfig, RobertaForMaskedLM

    from emberta.pretrain.forgetting import ActiveForgetting

    torch.manual_seed(0)
    model = RobertaForMaskedLM(RobertaConfig(vocab_size=500, pad_token_id=1, type_vocab_size=1, **TINY))
    embedding = model.get_input_embeddings().weight
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(input_ids=torch.tensor([[0, 7, 9, 2]]), labels=torch.tensor([[-100, 7, 9, -100]])).loss.backward()
    optimizer.step()
    with torch.no_grad():
        embedding.mul_(5.0)  # far from the initial distribution
    callback = ActiveForgetting(every=3, std=0.02)
    for step in (1, 2, 4, 5, 9):  # not a multiple of 3, or the last step: untouched
        before = embedding.detach().clone()
        callback.on_step_end(None, SimpleNamespace(global_step=step, max_steps=9), None, model=model,
                             optimizer=optimizer)  # fmt: skip
        assert torch.equal(embedding, before)
    callback.on_step_end(None, SimpleNamespace(global_step=6, max_steps=9), None, model=model, optimizer=optimizer)
    assert callback.resets == 1
    assert embedding.std().item() == pytest.approx(0.02, rel=0.05) and not embedding[1].any()
    assert model.get_output_embeddings().weight.data_ptr() == embedding.data_ptr()  # still tied
    assert not optimizer.state[embedding]["exp_avg"].any()


def test_resume_continues_a_stopped_run_and_refuses_another(corpus, tokenizer_dir, tmp_path, monkeypatch):
    from emberta.pretrain import training

    out, checkpoints = tmp_path / "resumed", tmp_path / "ckpt"
    args = mlm_args(corpus, tokenizer_dir, out, "--max-steps", 4, "--save-steps", 2, "--eval-steps", 2,
                    "--checkpoint-dir", checkpoints)  # fmt: skip
    original = training.LossLog.on_step_end

    def stop_at_3(self, args, state, control, **kwargs):
        if state.global_step == 3:
            raise KeyboardInterrupt
        return original(self, args, state, control, **kwargs)

    monkeypatch.setattr(training.LossLog, "on_step_end", stop_at_3)
    stopped = run(*args)
    assert stopped.exit_code == 130 and not out.exists() and (checkpoints / "checkpoint-2").is_dir()
    monkeypatch.undo()
    other = run(*args[:-2], "--mask-rate", 0.3, "--resume", checkpoints)
    refused(other, "another run", "mask_rate")
    fresh = run(*args)
    refused(fresh, "--resume")
    resumed = run(*args[:-2], "--resume", checkpoints)
    assert resumed.exit_code == 0, resumed.output
    meta = json.loads((out / "emberta-mlm.json").read_text())
    assert meta["steps"] == 4 and [r["step"] for r in meta["heldout"]] == [0, 2, 4]
    assert not checkpoints.exists()


# ---- bad input: exit 2, one line, nothing written ---------------------------------------------------------
def nothing_left(tmp_path, name="out"):
    return not [p for p in tmp_path.iterdir() if p.name.startswith((name, f".{name}"))]


def test_empty_corpus_and_nothing_left_after_cleaning(corpus, tokenizer_dir, tmp_path):
    (tmp_path / "blank.txt").write_text("\n  \n\t\n", encoding="utf-8")
    refused(run("train", "tokenizer", tmp_path / "blank.txt", "--out", tmp_path / "out"), "no text", "blank.txt")
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    result = run("train", "mlm", "--corpus", tmp_path / "empty.jsonl", "--tokenizer", tokenizer_dir, "--out",
                 tmp_path / "out")  # fmt: skip
    refused(result, "no text", "empty.jsonl")
    assert nothing_left(tmp_path)


def test_non_utf8_names_the_line_or_is_replaced(tmp_path):
    (tmp_path / "latin.txt").write_bytes("first line\ncaf\xe9 au lait\n".encode("latin-1"))
    refused(run("train", "tokenizer", tmp_path / "latin.txt", "--vocab-size", 300, "--out", tmp_path / "out"),
            "latin.txt:2:", "--errors replace")  # fmt: skip
    assert nothing_left(tmp_path)
    ok = run("train", "tokenizer", tmp_path / "latin.txt", "--vocab-size", 300, "--errors", "replace",
             "--min-frequency", 1, "--out", tmp_path / "out")  # fmt: skip
    assert ok.exit_code == 0, ok.output


def test_vocab_smaller_than_specials_and_bytes(corpus, tmp_path):
    refused(run("train", "tokenizer", corpus / "train.txt", "--vocab-size", 200, "--out", tmp_path / "out"),
            "--vocab-size 200", "256-byte alphabet", "261")  # fmt: skip
    assert nothing_left(tmp_path)


def test_from_a_model_without_embeddings_to_tie(tiny_models, corpus, tmp_path):
    import shutil

    folder = tmp_path / "decoder-only"
    shutil.copytree(tiny_models["bert"], folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(dict(config, model_type="gpt2", architectures=["GPT2Model"])))
    result = run("train", "mlm", "--corpus", corpus / "train.txt", "--from", folder, "--out", tmp_path / "out")
    refused(result, "no word embeddings to tie", "gpt2")
    assert nothing_left(tmp_path)


def test_unknown_size_and_mask_rate_out_of_range(corpus, tokenizer_dir, tmp_path):
    base = ("train", "mlm", "--corpus", corpus / "train.txt", "--tokenizer", tokenizer_dir, "--out", tmp_path / "out")
    refused(run(*base, "--size", "huge"), "--size 'huge'", "tiny, mini, small, base")
    refused(run(*base, "--mask-rate", 0), "--mask-rate 0")
    refused(run(*base, "--mask-rate", 1.2), "--mask-rate 1.2", "between 0 and 1")
    assert nothing_left(tmp_path)


def test_from_with_a_new_tokenizer_keeps_the_body_and_swaps_the_vocabulary(
    tiny_models, tokenizer_dir, corpus, tmp_path
):
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    out = tmp_path / "german"
    result = run("train", "mlm", "--corpus", corpus / "train.txt", "--from", tiny_models["roberta"], "--tokenizer",
                 tokenizer_dir, "--freeze-body", "--max-steps", 1, "--batch-size", 2, "--max-length", 16,
                 "--eval-blocks", 1, "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    after, before = load_file(out / "model.safetensors"), load_file(tiny_models["roberta"] / "model.safetensors")
    assert after["roberta.embeddings.word_embeddings.weight"].shape[0] == len(
        AutoTokenizer.from_pretrained(tokenizer_dir)
    )
    layer = "encoder.layer.1.output.dense.weight"
    torch.testing.assert_close(after["roberta." + layer], before[layer])


def test_compare_measures_another_models_tokenizer_on_the_same_texts(tiny_models, corpus, tmp_path):
    from transformers import AutoTokenizer

    from emberta.pretrain.corpus import held_out

    out = tmp_path / "tok"
    result = run("train", "tokenizer", corpus / "train.txt", "--vocab-size", 300, "--held-out", 0.1,
                 "--compare", tiny_models["bert"], "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((out / "emberta-tokenizer.json").read_text())
    heldout = [t for t in texts(160) if held_out(t, 0.1)]
    other = AutoTokenizer.from_pretrained(tiny_models["bert"])
    pieces = sum(len(other.tokenize(t)) for t in heldout)
    assert report["fertility"][str(tiny_models["bert"])] == pytest.approx(pieces / sum(len(t.split()) for t in heldout))
