"""Token classification (named entities) as an embedding evaluation: a linear probe. A logistic regression
(features standardised, lbfgs, max_iter=200) learns each word's tag from its frozen token vector (the encoder's
last hidden state at the word's first sub-word) on the training split; its tags on the test split are scored
at the entity level (exact type and span, the CoNLL convention: micro F1 is the main score).

A probe measures what the frozen vectors already hold, with no fine-tuning: far below a fine-tuned tagger
(`emberta tag train`), and cheap enough for `emberta eval` (one forward pass per sentence).
"""

from __future__ import annotations

import warnings

import numpy as np

from emberta.classify.tagging.metrics import tagging_metrics

MAIN_SCORE = "f1"
SEED = 42
MAX_ITER = 200


def evaluate_token_probe(train_vectors: list[np.ndarray], train_tags: list[list[str]], test_vectors: list[np.ndarray],
                         test_tags: list[list[str]], scheme: str, *, seed: int = SEED) -> dict:  # fmt: skip
    """Entity-level "f1" (micro), "precision", "recall", "macro_f1", "token_accuracy" and "per_type" F1 of the
    probe. *_vectors: one (words, dim) array per sentence; *_tags: one tag list per sentence."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.concatenate(train_vectors)
    y = np.array([tag for row in train_tags for tag in row])
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=MAX_ITER, random_state=seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is part of the protocol
        model.fit(x, y)
    flat = model.predict(np.concatenate(test_vectors))
    predicted, start = [], 0
    for row in test_tags:
        predicted.append([str(t) for t in flat[start : start + len(row)]])
        start += len(row)
    metrics = tagging_metrics(test_tags, predicted, scheme, known_tags=sorted(set(y.tolist())))
    keys = ("f1", "precision", "recall", "macro_f1", "token_accuracy", "n_sentences", "n_tokens", "unseen_tags")
    scores = {key: metrics[key] for key in keys if key in metrics}
    scores["per_type_f1"] = {kind: row["f1"] for kind, row in metrics.get("per_type", {}).items()}
    return scores
