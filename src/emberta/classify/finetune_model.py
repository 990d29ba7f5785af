"""Running a fine-tuned sequence-classification folder: load it once, turn texts into logits in batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emberta.errors import ModelError


def load_sequence_model(folder: Path):
    """(model, tokenizer) of a `--head finetune` classifier folder, in eval mode on the CPU (or the GPU)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    try:
        model = AutoModelForSequenceClassification.from_pretrained(str(folder))
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
    except (OSError, ValueError) as exc:
        raise ModelError(f"classifier {folder}: its model files do not load ({exc}); train it again") from None
    model.to("cuda" if torch.cuda.is_available() else "cpu").eval()
    return model, tokenizer


def sequence_logits(loaded, texts: list[str], pairs: list[str] | None = None, *, batch_size: int = 32,
                    max_length: int | None = 128) -> np.ndarray:  # fmt: skip
    """(n, k) float64 logits of `texts` (with their second texts `pairs`, for pair tasks), each truncated to
    `max_length` tokens (None: the tokenizer's own limit)."""
    import torch

    model, tokenizer = loaded
    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            part = texts[start : start + batch_size]
            second = None if pairs is None else pairs[start : start + batch_size]
            batch = tokenizer(part, second, truncation=True, max_length=max_length, padding=True, return_tensors="pt")
            batch = {k: v.to(model.device) for k, v in batch.items()}
            out.append(model(**batch).logits.float().cpu().numpy())
    if not out:
        return np.zeros((0, model.config.num_labels))
    return np.concatenate(out).astype(np.float64)
