"""The encoder layer on tiny random-weight BERT and RoBERTa models, checked against vectors computed here
directly from transformers' hidden states."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

import emberta
from emberta import LongTextWarning, ModelError, OptionError

TEXTS = ["The quick brown fox.", "A man is playing a guitar on the street today.", ""]
TEMPLATE = 'This sentence : "{text}" means [MASK] .'


def hidden_states(folder, texts, max_length=64):
    """Per text: (hidden states of every layer (L+1, T, H), input ids), no padding involved."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    out = []
    for text in texts:
        enc = tokenizer(text, return_tensors="pt", truncation=True, max_length=max_length)
        with torch.no_grad():
            states = model(**enc, output_hidden_states=True).hidden_states
        out.append((torch.stack(states)[:, 0].numpy(), enc["input_ids"][0].numpy()))
    return out


def reference(folder, texts, pooling, layer=-1):
    rows = []
    for states, _ids in hidden_states(folder, texts):
        h = states[layer]
        if pooling == "mean":
            rows.append(h.mean(0))
        elif pooling == "cls":
            rows.append(h[0])
        elif pooling == "max":
            rows.append(h.max(0))
        elif pooling == "lasttoken":
            rows.append(h[-1])
        elif pooling == "weightedmean":
            w = np.arange(1, len(h) + 1, dtype=np.float32)[:, None]
            rows.append((h * w).sum(0) / w.sum())
    return np.stack(rows)


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("arch", ["bert", "roberta"])
@pytest.mark.parametrize("pooling", ["mean", "cls", "max", "weightedmean", "lasttoken"])
def test_pooling_modes_match_hidden_states(tiny_models, arch, pooling):
    encoder = emberta.load_encoder(tiny_models[arch], pooling=pooling)
    got = encoder.encode(TEXTS)
    assert got.dtype == np.float32 and got.shape == (3, encoder.dim)
    np.testing.assert_allclose(got, reference(tiny_models[arch], TEXTS, pooling), atol=1e-5)


@pytest.mark.parametrize("arch", ["bert", "roberta"])
def test_plain_folder_defaults_to_unnormalized_mean(tiny_models, arch):
    encoder = emberta.load_encoder(tiny_models[arch])
    assert encoder.pooling == "mean" and encoder.normalize is False
    vectors = encoder.encode(TEXTS)
    assert not np.allclose(np.linalg.norm(vectors, axis=1), 1.0)


@pytest.mark.parametrize("arch", ["bert", "roberta"])
def test_st_folder_uses_its_modules_and_equals_sentence_transformers(tiny_models, arch):
    from sentence_transformers import SentenceTransformer

    folder = tiny_models[f"{arch}-st"]
    encoder = emberta.load_encoder(folder)
    expected_pooling = "cls" if arch == "bert" else "mean"
    assert encoder.pooling == expected_pooling and encoder.normalize is True
    got = encoder.encode(TEXTS)
    st = SentenceTransformer(str(folder), device="cpu").encode(TEXTS)
    np.testing.assert_allclose(got, st, atol=1e-6)
    np.testing.assert_allclose(got, unit(reference(folder, TEXTS, expected_pooling)), atol=1e-5)


@pytest.mark.parametrize("arch", ["bert", "roberta"])
def test_prompt_template_pooling_takes_the_mask_token_state(tiny_models, arch):
    folder = tiny_models[arch]
    encoder = emberta.load_encoder(folder, pooling=f"prompt:{TEMPLATE}")
    mask = encoder.mask_token
    assert mask == ("[MASK]" if arch == "bert" else "<mask>")
    got = encoder.encode(TEXTS)
    wrapped = [TEMPLATE.replace("[MASK]", mask).replace("{text}", t) for t in TEXTS]
    mask_id = AutoTokenizer.from_pretrained(folder).mask_token_id
    expected = [states[-1][list(ids).index(mask_id)] for states, ids in hidden_states(folder, wrapped)]
    np.testing.assert_allclose(got, np.stack(expected), atol=1e-5)


def test_prompt_template_keeps_the_mask_when_text_is_too_long(tiny_models):
    encoder = emberta.load_encoder(tiny_models["bert"], pooling=f"prompt:{TEMPLATE}")
    long_text = " ".join(["the quick brown fox jumps over the lazy dog"] * 20)
    with pytest.warns(LongTextWarning):
        vectors = encoder.encode([long_text, "short"])
    assert np.isfinite(vectors).all()


@pytest.mark.parametrize("arch", ["bert", "roberta"])
@pytest.mark.parametrize("layer", [0, 1, -2])
def test_layer_selection(tiny_models, arch, layer):
    encoder = emberta.load_encoder(tiny_models[arch], layer=layer)
    np.testing.assert_allclose(
        encoder.encode(TEXTS), reference(tiny_models[arch], TEXTS, "mean", layer=layer), atol=1e-5
    )


def test_last_layer_equals_default(tiny_models):
    default = emberta.load_encoder(tiny_models["bert-st"]).encode(TEXTS)
    np.testing.assert_allclose(emberta.load_encoder(tiny_models["bert-st"], layer=-1).encode(TEXTS), default, atol=1e-6)
    np.testing.assert_allclose(emberta.load_encoder(tiny_models["bert-st"], layer=2).encode(TEXTS), default, atol=1e-6)


def test_layer_out_of_range(tiny_models):
    with pytest.raises(OptionError, match="layer=5 is out of range"):
        emberta.load_encoder(tiny_models["bert"], layer=5)


def test_truncate_dim_renormalizes(tiny_models):
    full = emberta.load_encoder(tiny_models["roberta-st"]).encode(TEXTS)
    encoder = emberta.load_encoder(tiny_models["roberta-st"], truncate_dim=8)
    assert encoder.dim == 8
    got = encoder.encode(TEXTS)
    np.testing.assert_allclose(got, unit(full[:, :8]), atol=1e-6)
    raw = emberta.load_encoder(tiny_models["roberta"], truncate_dim=8).encode(TEXTS)
    np.testing.assert_allclose(raw, reference(tiny_models["roberta"], TEXTS, "mean")[:, :8], atol=1e-5)


def test_truncate_dim_larger_than_model(tiny_models):
    with pytest.raises(OptionError, match="truncate_dim=64 is larger than model"):
        emberta.load_encoder(tiny_models["bert"], truncate_dim=64)


def test_normalize_option_overrides_the_model(tiny_models):
    on = emberta.load_encoder(tiny_models["bert"], normalize=True).encode(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(on, axis=1), 1.0, atol=1e-6)
    off = emberta.load_encoder(tiny_models["roberta-st"], normalize=False)
    assert off.normalize is False
    np.testing.assert_allclose(off.encode(TEXTS), reference(tiny_models["roberta"], TEXTS, "mean"), atol=1e-5)


def test_named_and_literal_prompts(tiny_models):
    encoder = emberta.load_encoder(tiny_models["bert-st"])
    assert encoder.prompts["query"] == "query: "
    named = encoder.encode(TEXTS, prompt_name="query")
    literal = encoder.encode(TEXTS, prompt="query: ")
    prefixed = encoder.encode(["query: " + t for t in TEXTS])
    np.testing.assert_allclose(named, literal, atol=1e-6)
    np.testing.assert_allclose(named, prefixed, atol=1e-6)
    assert not np.allclose(named, encoder.encode(TEXTS), atol=1e-4)
    default_query = emberta.load_encoder(tiny_models["bert-st"], prompt_name="query")
    np.testing.assert_allclose(default_query.encode(TEXTS), named, atol=1e-6)
    assert default_query.fingerprint != encoder.fingerprint


def test_unknown_prompt_name(tiny_models):
    with pytest.raises(OptionError, match="no prompt named 'questions'"):
        emberta.load_encoder(tiny_models["bert-st"], prompt_name="questions")
    with pytest.raises(OptionError, match="either prompt"):
        emberta.load_encoder(tiny_models["bert-st"]).encode(TEXTS, prompt="x", prompt_name="query")


def test_fingerprint_is_stable_and_tracks_vector_options(tiny_models):
    a = emberta.load_encoder(tiny_models["bert"]).fingerprint
    assert a == emberta.load_encoder(tiny_models["bert"], threads=1).fingerprint
    others = {
        emberta.load_encoder(tiny_models["bert"], **opts).fingerprint
        for opts in [
            {"pooling": "cls"},
            {"layer": 1},
            {"truncate_dim": 16},
            {"normalize": True},
            {"max_length": 32},
        ]
    }
    assert a not in others and len(others) == 5
    assert emberta.load_encoder(tiny_models["roberta"]).fingerprint != a


def test_empty_inputs_and_strings(tiny_models):
    encoder = emberta.load_encoder(tiny_models["bert-st"])
    assert encoder.encode([]).shape == (0, 32)
    vectors = encoder.encode(["", "x", ""])
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(vectors[0], vectors[2], atol=1e-6)
    assert encoder.encode("one text").shape == (1, 32)


def test_non_string_text_is_an_input_error(tiny_models):
    with pytest.raises(emberta.InputError, match=r"texts\[1\] is int"):
        emberta.load_encoder(tiny_models["bert"]).encode(["a", 3])


def test_similarity(tiny_models):
    encoder = emberta.load_encoder(tiny_models["bert"])
    vectors = encoder.encode(TEXTS[:2])
    sim = encoder.similarity(vectors, vectors)
    assert sim.shape == (2, 2)
    np.testing.assert_allclose(np.diag(sim), 1.0, atol=1e-6)
    expected = vectors[0] @ vectors[1] / np.linalg.norm(vectors[0]) / np.linalg.norm(vectors[1])
    assert sim[0, 1] == pytest.approx(expected, abs=1e-6)


LONG = " ".join(f"word{i % 7} the fox and the dog" for i in range(60))


def test_long_texts_warn_with_count(tiny_models):
    encoder = emberta.load_encoder(tiny_models["bert"], max_length=32)
    with pytest.warns(LongTextWarning) as caught:
        encoder.encode([LONG, "short", LONG])
    assert len(caught) == 1
    assert caught[0].message.count == 2 and "2 of 3 texts" in str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        encoder.encode(["short", "also short"])


@pytest.mark.parametrize("arch", ["bert", "roberta"])
def test_chunking_mean_pools_windows(tiny_models, arch):
    max_length = 24
    encoder = emberta.load_encoder(tiny_models[arch], max_length=max_length, long_text="chunk", chunk_overlap=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # chunking is not truncation: no warning
        got = encoder.encode([LONG, "short text"])
    tokenizer = AutoTokenizer.from_pretrained(tiny_models[arch])
    assert len(tokenizer(LONG)["input_ids"]) > 3 * max_length
    windows, owners = encoder._fit_to_length([LONG, "short text"], "")
    assert owners[-1] == 1 and owners.count(0) == len(windows) - 1 > 3
    assert all(len(tokenizer(w)["input_ids"]) <= max_length for w in windows)
    assert LONG.startswith(windows[0]) and LONG.endswith(windows[-2])
    plain = emberta.load_encoder(tiny_models[arch], max_length=max_length)
    np.testing.assert_allclose(got[0], plain.encode(windows[:-1]).mean(0), atol=1e-5)
    np.testing.assert_allclose(got[1], plain.encode(["short text"])[0], atol=1e-6)
    with pytest.warns(LongTextWarning):
        truncated = plain.encode([LONG])[0]
    assert not np.allclose(got[0], truncated, atol=1e-3)


def test_split_windows_overlap():
    text = "a b c d e f g h i j"
    offsets = [(i * 2, i * 2 + 1) for i in range(10)]
    assert emberta.encoders.long_text.split_windows(text, offsets, 4, 1) == ["a b c d", "d e f g", "g h i j"]
    assert emberta.encoders.long_text.split_windows(text, offsets, 4, 0) == ["a b c d", "e f g h", "i j"]
    assert emberta.encoders.long_text.split_windows("", [], 4, 1) == [""]
    # "ab cd ef" as tokens a|b|c|d|e|f: windows never split a word
    pieces = [(0, 1), (1, 2), (3, 4), (4, 5), (6, 7), (7, 8)]
    assert emberta.encoders.long_text.split_windows("ab cd ef", pieces, 3, 0) == ["ab", "cd", "ef"]
    assert emberta.encoders.long_text.split_windows("abcdef", [(i, i + 1) for i in range(6)], 4, 1) == [
        "abcd",
        "def",
    ]


def test_max_length_beyond_position_embeddings(tiny_models):
    with pytest.raises(OptionError, match="exceeds what model"):
        emberta.load_encoder(tiny_models["roberta"], max_length=65)
    assert emberta.load_encoder(tiny_models["roberta"], max_length=64).max_length == 64


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"pooling": "meen"}, "unknown pooling 'meen'; did you mean 'mean'"),
        ({"pooling": "prompt:no placeholder [MASK]"}, r"must contain \{text\}"),
        ({"pooling": "prompt:{text} has no mask"}, "exactly one mask placeholder"),
        ({"truncate_dim": 0}, "truncate_dim must be at least 1"),
        ({"long_text": "split"}, "unknown long_text mode"),
        ({"poolin": "cls"}, "unknown encoder option 'poolin'; did you mean 'pooling'"),
    ],
)
def test_bad_options(tiny_models, options, message):
    with pytest.raises(OptionError, match=message):
        emberta.load_encoder(tiny_models["bert"], **options)


def test_model_folder_errors(tiny_models, tmp_path):
    import shutil

    with pytest.raises(ModelError, match=r"no such folder\. emberta never downloads"):
        emberta.load_encoder(tmp_path / "nope")
    no_weights = tmp_path / "no-weights"
    shutil.copytree(tiny_models["bert"], no_weights)
    (no_weights / "model.safetensors").unlink()
    with pytest.raises(ModelError, match="no weights in"):
        emberta.load_encoder(no_weights)
    no_tokenizer = tmp_path / "no-tokenizer"
    shutil.copytree(tiny_models["roberta"], no_tokenizer)
    (no_tokenizer / "tokenizer.json").unlink()
    with pytest.raises(ModelError, match="no tokenizer in"):
        emberta.load_encoder(no_tokenizer)
    no_config = tmp_path / "no-config"
    shutil.copytree(tiny_models["bert-st"], no_config)
    (no_config / "config.json").unlink()
    with pytest.raises(ModelError, match=r"config\.json is missing"):
        emberta.load_encoder(no_config)


def test_describe(tiny_models):
    details = emberta.load_encoder(tiny_models["roberta-st"]).describe()
    assert details["architecture"] == "RobertaModel"
    assert details["dim"] == 32 and details["max_length"] == 64 and details["pooling"] == "mean"
    assert details["parameters"] == sum(
        p.numel() for p in AutoModel.from_pretrained(tiny_models["roberta"]).parameters()
    )
    assert details["prompts"]["query"] == "query: "


@pytest.mark.parametrize("arch", ["distilbert", "deberta-v2", "modernbert", "mpnet", "xlm-roberta"])
def test_other_encoder_architectures_load_as_plain_folders(other_architectures, arch):
    folder = other_architectures[arch]
    np.testing.assert_allclose(emberta.load_encoder(folder).encode(TEXTS), reference(folder, TEXTS, "mean"), atol=1e-5)
    np.testing.assert_allclose(
        emberta.load_encoder(folder, layer=1, pooling="cls").encode(TEXTS),
        reference(folder, TEXTS, "cls", layer=1),
        atol=1e-5,
    )


def test_threads_apply_to_the_encoders_own_calls_only(tiny_models, monkeypatch):
    import torch

    before = torch.get_num_threads()
    encoder = emberta.load_encoder(tiny_models["bert-st"], threads=1)
    seen = []
    model = encoder.sentence_transformer
    original = model.encode
    monkeypatch.setattr(model, "encode", lambda *a, **k: seen.append(torch.get_num_threads()) or original(*a, **k))
    encoder.encode(["a short text"], show_progress=False)
    assert seen == [1] and torch.get_num_threads() == before  # another encoder of the process keeps every core
