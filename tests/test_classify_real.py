"""`emberta classify` with the real default model on TweetEval emotion: a logreg head on 64 examples per class
(seed 0, regularisation chosen on the validation split) scores the test split's macro-F1 within one point of
what benchmarks/classify.py recorded in docs/classification.json for the same run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emberta import classify

pytestmark = pytest.mark.real_model

RECORD = Path(__file__).resolve().parents[1] / "docs" / "classification.json"
TOLERANCE = 1.0  # points of macro-F1


def recorded_score() -> float:
    document = json.loads(RECORD.read_text(encoding="utf-8"))
    return document["frozen"]["results"]["emotion/logreg/64"]["scores"][0]  # seed 0


def test_logreg_on_tweeteval_emotion_matches_the_benchmark(real_encoder, real_store, data_dir):
    folder = data_dir / "tweeteval_emotion"
    if not (folder / "train.jsonl").is_file():
        pytest.skip(f"TweetEval emotion not found under {data_dir}")
    clf = classify.train(folder / "train.jsonl", dev=folder / "validation.jsonl", model=real_encoder, head="logreg",
                         samples_per_label=64, seed=0, cache=real_store)  # fmt: skip
    metrics = classify.evaluate(clf, folder / "test.jsonl", write=False, cache=real_store)
    assert clf.labels == ["anger", "joy", "optimism", "sadness"]
    assert 100 * metrics["macro_f1"] == pytest.approx(recorded_score(), abs=TOLERANCE)
    assert metrics["ece"] <= metrics["ece_uncalibrated"] + 0.02  # temperature scaling on dev does not hurt
