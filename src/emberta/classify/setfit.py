"""`--head setfit`: few-shot classification by the SetFit recipe (Tunstall et al., "Efficient Few-Shot Learning
Without Prompts", 2022). First the sentence encoder is tuned contrastively on pairs built from the labelled
examples: for each example and iteration, one pair with another example of the same label (target cosine 1) and
one with an example of another label (target 0), trained with sentence-transformers' CosineSimilarityLoss; then a
logistic-regression head is fitted on the tuned encoder's embeddings.

Inputs: texts with one label each, typically 8-64 per class (`--samples-per-label`). Related: `logreg` (the same
head on the untuned encoder); `finetune` (all examples, a softmax head trained with the encoder).

Example:
    clf = emberta.classify.train("train.jsonl", head="setfit", samples_per_label=16, dev="dev.jsonl")
"""

from __future__ import annotations

import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from emberta.classify.data import Examples
from emberta.classify.options import TrainOptions
from emberta.errors import OptionError


def contrastive_pairs(texts: list[str], labels: list[str], iterations: int, seed: int) -> tuple[list, list, list]:
    """(first texts, second texts, targets): per iteration and example, a positive pair (same label, target 1.0)
    and a negative pair (another label, 0.0), drawn with `seed` — SetFit's pair generation with num_iterations."""
    rng = random.Random(seed)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    first, second, target = [], [], []
    for _ in range(iterations):
        for i, label in enumerate(labels):
            first.append(texts[i])
            second.append(texts[rng.choice(by_label[label])])
            target.append(1.0)
            other = rng.choice([j for j, y in enumerate(labels) if y != label])
            first.append(texts[i])
            second.append(texts[other])
            target.append(0.0)
    return first, second, target


def train_setfit_encoder(model: str, train: Examples, opts: TrainOptions, folder: Path) -> dict:
    """Tune the sentence encoder `model` contrastively on pairs of `train` and save it (a sentence-transformers
    folder) to `folder`. Returns what training did."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss
    from transformers.trainer_callback import PrinterCallback

    from emberta.encoders import load_encoder

    if train.pairs is not None:
        raise OptionError("--head setfit classifies single texts; drop --text-pair-field or use logreg/finetune")
    encoder = load_encoder(model, backend="torch")
    st_model = encoder.sentence_transformer
    first, second, target = contrastive_pairs(train.texts, train.labels, opts.setfit_iterations, opts.seed)
    dataset = Dataset.from_dict({"sentence1": first, "sentence2": second, "score": target})
    scratch = tempfile.mkdtemp(prefix="emberta-setfit-")  # the trainer wants an output folder; nothing is saved
    args = SentenceTransformerTrainingArguments(
        output_dir=scratch, num_train_epochs=1, per_device_train_batch_size=opts.batch_size,
        learning_rate=opts.learning_rate, warmup_steps=opts.warmup_ratio, seed=opts.seed, data_seed=opts.seed,
        save_strategy="no", report_to=[], disable_tqdm=not sys.stderr.isatty(), logging_strategy="no",
        dataloader_pin_memory=False,
    )  # fmt: skip
    st_model.model_card_data.set_widget_examples = lambda dataset: None
    trainer = SentenceTransformerTrainer(model=st_model, args=args, train_dataset=dataset,
                                         loss=CosineSimilarityLoss(st_model))  # fmt: skip
    trainer.remove_callback(PrinterCallback)
    started = time.perf_counter()
    try:
        result = trainer.train()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    seconds = time.perf_counter() - started
    st_model.save(str(folder))
    return {"seconds": round(seconds, 2), "steps": int(result.global_step), "pairs": len(target)}
