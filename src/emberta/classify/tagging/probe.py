"""Frozen token vectors for the token-classification probe of `emberta eval`: the encoder's last hidden state
at each word's first sub-word (the alignment `train_tagger` uses), with no training.

    vectors = word_vectors("default", [["Empire", "State", "Building"]])  # [array of shape (3, 384)]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emberta.classify.tagging.alignment import encode_words, word_predictions

PROBE_MAX_LENGTH = 128
PROBE_STRIDE = 32


def word_vectors(model: str | Path, sentences: list[list[str]], *, batch_size: int = 32,
                 max_length: int = PROBE_MAX_LENGTH) -> list[np.ndarray]:  # fmt: skip
    """Per sentence, a (words, dim) float32 array: the transformer's last hidden state at each word's first
    sub-word. model: a model spec ("default" or a folder); its transformer is run, whatever backend emberta
    would encode sentences with."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from emberta.classify.tagging.options import model_positions
    from emberta.classify.tagging.tagger import window_outputs
    from emberta.encoders.model_folder import resolve_model_folder

    folder = resolve_model_folder(model).transformer_path
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    network = AutoModel.from_pretrained(str(folder)).to("cuda" if torch.cuda.is_available() else "cpu").eval()
    limit = model_positions(tokenizer, network.config)
    windows, _ = encode_words(tokenizer, sentences, max_length=min(max_length, limit), stride=PROBE_STRIDE)

    def forward(ids, mask):
        return network(input_ids=ids.to(network.device), attention_mask=mask.to(network.device)).last_hidden_state

    hidden = window_outputs(forward, [w.input_ids for w in windows], tokenizer.pad_token_id, batch_size)
    rows = word_predictions(windows, hidden, [len(s) for s in sentences])
    return [np.stack(row).astype(np.float32) for row in rows]
