"""Classification (MTEB protocol): a logistic regression (max_iter=100) trained on embeddings of a small,
label-balanced sample of the training set, scored on the test set; repeated with reshuffled samples."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, average_precision_score, f1_score, precision_score, recall_score

MAIN_SCORE = "accuracy"
DEFAULT_SAMPLES_PER_LABEL = 8
DEFAULT_N_EXPERIMENTS = 10
SEED = 42


def undersample_experiments(
    labels, samples_per_label: int = DEFAULT_SAMPLES_PER_LABEL, n_experiments: int = DEFAULT_N_EXPERIMENTS, seed=SEED
) -> list[list[int]]:
    """Training row indices of each experiment: at most `samples_per_label` rows per label, taken in the order
    of a shuffled index list. As in MTEB, each experiment reshuffles the previous experiment's order with a
    fresh RandomState(seed)."""
    order = list(range(len(labels)))
    experiments = []
    for _ in range(n_experiments):
        np.random.RandomState(seed).shuffle(order)
        counts: dict = {}
        chosen = []
        for i in order:
            if counts.get(labels[i], 0) < samples_per_label:
                chosen.append(i)
                counts[labels[i]] = counts.get(labels[i], 0) + 1
        experiments.append(chosen)
    return experiments


def evaluate_classification(
    train_vectors: np.ndarray, train_labels, test_vectors: np.ndarray, test_labels, experiments: list[list[int]],
    seed: int = SEED,
) -> dict:  # fmt: skip
    """Mean over experiments of accuracy, macro/weighted F1, precision, recall (and AP for two classes).

    train_vectors: (n_train, dim), only the rows named in `experiments` are read. Returns the means plus
    `scores_per_experiment`.
    """
    train_labels = np.asarray(train_labels)
    test_labels = np.asarray(test_labels)
    per_experiment = []
    for rows in experiments:
        model = LogisticRegression(max_iter=100, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter=100 is the protocol
            model.fit(train_vectors[rows], train_labels[rows])
        per_experiment.append(classification_metrics(test_labels, model.predict(test_vectors)))
    result: dict = {}
    for key in per_experiment[0]:
        values = [s[key] for s in per_experiment if s[key] is not None]
        result[key] = float(np.mean(values)) if values else None
    result["scores_per_experiment"] = per_experiment
    return result


def classification_metrics(y_true, y_pred) -> dict:
    """accuracy, f1/precision/recall (macro and weighted); ap/ap_weighted on predicted labels when binary."""
    scores = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1": float(f1_score(y_true, y_pred, average="macro")),
        "f1_weighted": float(f1_score(y_true, y_pred, average="weighted")),
        "precision": float(precision_score(y_true, y_pred, average="macro", zero_division=0)),
        "precision_weighted": float(precision_score(y_true, y_pred, average="weighted", zero_division=0)),
        "recall": float(recall_score(y_true, y_pred, average="macro", zero_division=0)),
        "recall_weighted": float(recall_score(y_true, y_pred, average="weighted", zero_division=0)),
        "ap": None,
        "ap_weighted": None,
    }
    classes = np.unique(y_true)
    if len(classes) == 2:
        positive = classes[1]
        y_bin, p_bin = (np.asarray(y_true) == positive).astype(int), (np.asarray(y_pred) == positive).astype(int)
        scores["ap"] = float(average_precision_score(y_bin, p_bin, average="macro"))
        scores["ap_weighted"] = float(average_precision_score(y_bin, p_bin, average="weighted"))
    return scores
