"""Streaming file encoding: blocks give the same rows as one call, and long texts are counted across blocks."""

from __future__ import annotations

import numpy as np
import pytest

import emberta
from emberta.embed_file import encode_file
from emberta.io.readers import TextReader


def test_blocks_equal_one_call_and_long_texts_are_counted_once(tiny_models, tmp_path):
    texts = [f"text number {i} " + ("long " * 40 if i % 3 == 0 else "") for i in range(7)]
    path = tmp_path / "in.txt"
    path.write_text("\n".join(texts) + "\n")
    encoder = emberta.load_encoder(tiny_models["bert"], max_length=16)
    progress = []
    with pytest.warns(emberta.LongTextWarning) as caught:
        report = encode_file(
            encoder, TextReader(path), str(tmp_path / "v.npy"), block_size=2, on_progress=progress.append
        )
    assert [w.message.count for w in caught] == [3]
    assert progress == [2, 2, 2, 1] and report.count == 7 and report.long_texts == 3
    with pytest.warns(emberta.LongTextWarning):
        expected = encoder.encode(texts)
    np.testing.assert_allclose(np.load(tmp_path / "v.npy"), expected, atol=1e-6)


def test_failure_mid_file_leaves_no_output(tiny_models, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "a"}\n' * 5 + "{broken\n")
    encoder = emberta.load_encoder(tiny_models["bert"])
    with pytest.raises(emberta.InputError, match=":6: not valid JSON"):
        encode_file(encoder, TextReader(path), str(tmp_path / "v.npy"), block_size=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]
