"""Token classification (named entities, parts of speech) with fine-tuned encoders: tagged files (JSONL or
CoNLL; bio, bioes or plain tags), sub-word alignment with windows for long sentences, the transformers Trainer,
entity-level scoring in the CoNLL convention, and a tagger folder that `transformers.pipeline` also loads.

    from emberta.classify.tagging import Tagger, train_tagger
    tagger = train_tagger("train.jsonl", dev="dev.jsonl", test="test.jsonl", out="ner")
    Tagger.load("ner").predict_text(["I saw the Empire State Building"])
"""

from emberta.classify.tagging.data import TaggedSentences, read_tagged
from emberta.classify.tagging.metrics import tagging_metrics
from emberta.classify.tagging.options import TagOptions
from emberta.classify.tagging.predict import evaluate, predict_file
from emberta.classify.tagging.tagger import Tagger
from emberta.classify.tagging.train import train_tagger

__all__ = ["TagOptions", "TaggedSentences", "Tagger", "evaluate", "predict_file", "read_tagged", "tagging_metrics",
           "train_tagger"]  # fmt: skip
