"""Text classifiers on emberta's encoders: heads on frozen embeddings (logreg, mlp, through the embedding cache),
fine-tuning the encoder with a classification head (finetune), few-shot contrastive tuning (setfit), multi-label
outputs, calibrated probabilities, metrics, and concept erasure of a nuisance attribute.

    import emberta.classify
    clf = emberta.classify.train("train.jsonl", dev="dev.jsonl", test="test.jsonl", head="logreg", out="clf")
    clf.predict(["what a lovely day"])
    clf = emberta.classify.Classifier.load("clf")

Nothing heavy loads on import: torch and transformers load when a head needs them.
"""

from emberta.classify.classifier import Classifier
from emberta.classify.data import Examples, Fields, read_examples
from emberta.classify.heads import HEADS
from emberta.classify.options import TrainOptions
from emberta.classify.predict import evaluate, predict_file
from emberta.classify.train import train

__all__ = ["HEADS", "Classifier", "Examples", "Fields", "TrainOptions", "evaluate", "predict_file", "read_examples",
           "train"]  # fmt: skip
