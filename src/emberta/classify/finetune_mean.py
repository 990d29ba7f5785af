"""`--head finetune --pooling mean`: fine-tune the sentence encoder as it embeds (its own pooling and
normalisation) with a linear head that starts from a linear probe.

LP-FT (Kumar et al. 2022, "Fine-Tuning can Distort Pretrained Features and Underperform Out-of-Distribution"):
first fit a logistic regression on the frozen sentence embeddings (the `logreg` head, regularisation chosen on dev),
then fine-tune the encoder and that head together. A sentence encoder such as all-MiniLM-L6-v2 was trained to mean
pool; `AutoModelForSequenceClassification` instead classifies from BERT's [CLS] pooler, which the sentence
training never used, and starts its head at random. Here training starts where the frozen head ends.

Inputs: single texts with one label (or a label list with --multi-label); pair tasks use `--pooling cls`.
The classifier folder holds the tuned encoder as a sentence-transformers folder in `encoder/` (as `setfit` does:
`emberta.load_encoder("DIR/encoder")` and every `--model DIR/encoder` use it, ONNX export included) and the head
as .npy files; predicting is the encoder's embeddings through the head, like the frozen heads.
`transformers.pipeline` does not load it (it knows no mean pooling head): use `--pooling cls` for that.

Example:
    emberta classify train --head finetune --pooling mean --train train.jsonl --dev dev.jsonl --out clf
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emberta.classify.heads import DenseHead
from emberta.classify.metrics import targets
from emberta.classify.options import TrainOptions


def linear_probe(model: str, splits, labels: list[str], opts: TrainOptions) -> DenseHead:
    """The `logreg` head on frozen embeddings of `model` (C chosen on splits.dev), as one linear layer with a row
    per class (a binary head's single row becomes two rows, [0; w], which give the same softmax)."""
    from emberta.cache import open_store
    from emberta.classify.frozen import train_frozen
    from emberta.encoders import load_encoder

    encoder = load_encoder(model)
    with open_store(False) as store:
        x = store.encode(encoder, splits.train.texts, show_progress=False)
        dev = None
        if splits.dev is not None and len(splits.dev):
            x_dev = store.encode(encoder, splits.dev.texts, show_progress=False)
            dev = (x_dev, targets(splits.dev.labels, labels, opts.multi_label))
    y = targets(splits.train.labels, labels, opts.multi_label)
    head, _ = train_frozen("logreg", x, y, dev, class_weight=opts.class_weight, seed=opts.seed,
                           multi_label=opts.multi_label, strength=opts.strength)  # fmt: skip
    weight, bias = head.weights[0], head.biases[0]
    if head.output == "binary":
        weight = np.vstack([np.zeros_like(weight), weight])
        bias = np.concatenate([[0.0], bias])
    return DenseHead([weight], [bias], "sigmoid" if opts.multi_label else "softmax")


def mean_pooled_network(source_path: Path, probe: DenseHead):
    """A torch module: the sentence-transformers model at `source_path` (its pooling and normalisation) and a
    linear layer initialised from `probe`; forward(input_ids, attention_mask, ...) gives `.logits`."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.modeling_outputs import SequenceClassifierOutput

    class MeanPoolClassifier(torch.nn.Module):
        def __init__(self, body, weight: np.ndarray, bias: np.ndarray):
            super().__init__()
            self.body = body
            self.head = torch.nn.Linear(weight.shape[1], weight.shape[0])
            with torch.no_grad():
                self.head.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
                self.head.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))

        def forward(self, input_ids, attention_mask, token_type_ids=None, labels=None):
            features = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                features["token_type_ids"] = token_type_ids
            embedding = self.body(features)["sentence_embedding"]
            return SequenceClassifierOutput(logits=self.head(embedding))

    body = SentenceTransformer(str(source_path), device="cpu", local_files_only=True)
    return MeanPoolClassifier(body, probe.weights[0], probe.biases[0])


def save_mean_pooled(network, tokenizer, folder: Path, multi_label: bool) -> DenseHead:
    """Write the tuned encoder of `network` as a sentence-transformers folder `folder`; returns its head."""
    network.body.save(str(folder))
    tokenizer.save_pretrained(str(folder))
    weight = network.head.weight.detach().cpu().double().numpy()
    bias = network.head.bias.detach().cpu().double().numpy()
    return DenseHead([weight], [bias], "sigmoid" if multi_label else "softmax")
