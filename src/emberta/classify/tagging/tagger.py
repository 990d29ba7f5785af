"""The `Tagger`: a fine-tuned token classifier that tags words or raw text, saves and loads.

A tagger folder is a Hugging Face token-classification model (`transformers.pipeline("token-classification",
model=DIR, aggregation_strategy="first")` loads it) plus `tagger.json`: format version, tags, tag scheme,
the encoder it was tuned from, training options and what training did, dev and test metrics.

    tagger = Tagger.load("ner")
    tagger.predict_tokens([["Empire", "State", "Building", "is", "tall"]])  # [["B-location", "I-location", ...]]
    tagger.predict_text(["I saw the Empire State Building"])  # words with character offsets, and entities
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from emberta.classify.classifier import read_folder_meta
from emberta.classify.tagging.alignment import encode_words, word_predictions
from emberta.classify.tagging.schemes import entity_spans, repair
from emberta.errors import ModelError

FORMAT_VERSION = 1
META_FILE = "tagger.json"
_WORD = re.compile(r"\S+")


class Tagger:
    """A trained tagger. Build one with `emberta.classify.tagging.train_tagger(...)` or `Tagger.load(DIR)`.
    `tags`: the tag names, in the order of the model's outputs; `scheme`: bio, bioes or none."""

    def __init__(self, meta: dict, folder: Path, *, model=None, tokenizer=None):
        self.meta, self.folder = meta, Path(folder)
        self._model, self._tokenizer = model, tokenizer

    @property
    def tags(self) -> list[str]:
        return list(self.meta["tags"])

    @property
    def scheme(self) -> str:
        return self.meta["scheme"]

    @property
    def max_length(self) -> int:
        return int(self.meta["window"])

    @property
    def stride(self) -> int:
        return int(self.meta.get("options", {}).get("stride", 32))

    def loaded(self):
        """(model, tokenizer), loaded once, in eval mode on the GPU when there is one."""
        if self._model is None:
            import torch
            from transformers import AutoModelForTokenClassification, AutoTokenizer

            try:
                self._model = AutoModelForTokenClassification.from_pretrained(str(self.folder))
                self._tokenizer = AutoTokenizer.from_pretrained(str(self.folder))
            except (OSError, ValueError) as exc:
                raise ModelError(f"tagger {self.folder}: its model files do not load ({exc}); train it again") from None
            self._model.to("cuda" if torch.cuda.is_available() else "cpu")
        self._model.eval()
        return self._model, self._tokenizer

    # ---- predicting ------------------------------------------------------------------------------------
    def word_logits(self, sentences: list[list[str]], *, batch_size: int = 32) -> list[np.ndarray]:
        """Per sentence, a (words, tags) float32 array of logits, read at each word's first sub-word."""
        model, tokenizer = self.loaded()
        filled = [i for i, words in enumerate(sentences) if words]  # an empty sentence has no tags to predict
        windows, _ = encode_words(tokenizer, [sentences[i] for i in filled], max_length=self.max_length,
                                  stride=self.stride)  # fmt: skip

        def forward(ids, mask):
            return model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device)).logits

        logits = window_outputs(forward, [w.input_ids for w in windows], tokenizer.pad_token_id, batch_size)
        rows = word_predictions(windows, logits, [len(sentences[i]) for i in filled])
        out = [np.zeros((0, len(self.tags)), np.float32) for _ in sentences]
        for i, row in zip(filled, rows, strict=True):
            out[i] = np.stack(row).astype(np.float32)
        return out

    def predict_tokens(self, sentences: list[list[str]], *, with_scores: bool = False, batch_size: int = 32):
        """The tags of each sentence's words (repaired into the scheme's correct form); with_scores also gives
        each tag's softmax probability: (tags, scores) per sentence."""
        out = []
        for logits in self.word_logits(sentences, batch_size=batch_size):
            proba = _softmax(logits)
            ids = proba.argmax(axis=1) if len(proba) else np.zeros(0, dtype=int)
            tags, _ = repair([self.tags[i] for i in ids], self.scheme)
            scores = [round(float(proba[i, self.tags.index(t)]), 6) for i, t in enumerate(tags)]
            out.append((tags, scores) if with_scores else tags)
        return out

    def predict_text(self, texts: list[str], *, batch_size: int = 32) -> list[dict]:
        """Per text: {"tokens": [{"text", "start", "end", "tag", "score"}], "entities": [{"type", "text",
        "start", "end", "score", "first_token", "last_token"}]} with character offsets [start, end) into the text
        and word indices (last_token inclusive); words are cut by the model's own pre-tokenizer (whitespace and
        punctuation for BERT)."""
        _, tokenizer = self.loaded()
        words = [pre_tokenize(tokenizer, text) for text in texts]
        predicted = self.predict_tokens([[w for w, _, _ in row] for row in words], with_scores=True,
                                        batch_size=batch_size)  # fmt: skip
        out = []
        for text, row, (tags, scores) in zip(texts, words, predicted, strict=True):
            tokens = [{"text": w, "start": s, "end": e, "tag": t, "score": p}
                      for (w, s, e), t, p in zip(row, tags, scores, strict=True)]  # fmt: skip
            entities = []
            if self.scheme != "none":
                for kind, first, last in entity_spans(tags):
                    start, end = row[first][1], row[last - 1][2]
                    entities.append({"type": kind, "text": text[start:end], "start": start, "end": end,
                                     "score": round(float(np.mean(scores[first:last])), 6), "first_token": first,
                                     "last_token": last - 1})  # fmt: skip
            out.append({"tokens": tokens, "entities": entities})
        return out

    # ---- files -----------------------------------------------------------------------------------------
    def write_meta(self, folder: Path | None = None) -> None:
        """Write tagger.json into `folder` (default: the tagger's own)."""
        from emberta.io.atomic import write_text_atomic

        meta = dict(self.meta, format_version=FORMAT_VERSION)
        write_text_atomic(Path(folder or self.folder) / META_FILE, json.dumps(meta, indent=2, ensure_ascii=False)
                          + "\n")  # fmt: skip

    @classmethod
    def load(cls, folder: str | Path) -> Tagger:
        """Open a tagger folder; ModelError when it is not one, is damaged, or comes from a newer emberta."""
        folder = Path(folder)
        return cls(read_meta(folder), folder)


def window_outputs(forward, inputs: list[list[int]], pad_id: int | None, batch_size: int) -> list[np.ndarray]:
    """forward(input_ids, attention_mask) -> (batch, positions, k) tensor, run on each list of input ids in
    batches of similar length; one (positions, k) float32 array per list."""
    import torch

    order = sorted(range(len(inputs)), key=lambda i: len(inputs[i]))
    out: list = [None] * len(inputs)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            part = order[start : start + batch_size]
            width = max(len(inputs[i]) for i in part)
            ids = torch.full((len(part), width), pad_id or 0, dtype=torch.long)
            mask = torch.zeros((len(part), width), dtype=torch.long)
            for row, i in enumerate(part):
                ids[row, : len(inputs[i])] = torch.tensor(inputs[i])
                mask[row, : len(inputs[i])] = 1
            values = forward(ids, mask).float().cpu().numpy()
            for row, i in enumerate(part):
                out[i] = values[row, : len(inputs[i])]
    return out


def pre_tokenize(tokenizer, text: str) -> list[tuple[str, int, int]]:
    """The words of `text` as (word, start, end) character offsets, as the tokenizer's pre-tokenizer cuts them
    (whitespace when it has none); byte-level markers and surrounding spaces are dropped."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    pre = getattr(backend, "pre_tokenizer", None)
    if pre is None:
        return [(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]
    words = []
    for _, (start, end) in pre.pre_tokenize_str(text):
        piece = text[start:end]
        stripped = piece.strip()
        if not stripped:
            continue
        start += len(piece) - len(piece.lstrip())
        words.append((stripped, start, start + len(stripped)))
    return words


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True) if len(logits) else logits
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True) if len(logits) else e


def read_meta(folder: Path) -> dict:
    """tagger.json of `folder`, checked: present, JSON, a format version this emberta reads."""
    return read_folder_meta(folder, META_FILE, kind="tagger", command="emberta tag train", version=FORMAT_VERSION,
                            required=("tags", "scheme", "window"))  # fmt: skip
