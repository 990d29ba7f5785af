"""Building encoders: tokenizer training, masked-language-model (pre)training (masking policies, active
forgetting), vocabulary expansion and pseudo-log-likelihood scoring, on the transformers Trainer.

    import emberta.pretrain as pretrain
    pretrain.train_tokenizer(["corpus.txt"], "my-tok", pretrain.TokenizerOptions(vocab_size=8000))
    options = pretrain.MlmOptions(tokenizer=Path("my-tok"), size="tiny", max_steps=2000)
    pretrain.train_mlm([Path("corpus.txt")], Path("my-roberta"), options)
    pretrain.score_mlm("my-roberta", ["A sentence.", "Sentence a."]).pseudo_perplexity

Nothing heavy loads on import: torch and transformers load when a job needs them.
"""

from emberta.pretrain.mlm import MlmOptions, MlmResult, train_mlm
from emberta.pretrain.pll import MlmScores, TextScore, score_mlm
from emberta.pretrain.tokenizer_training import TokenizerOptions, train_tokenizer
from emberta.pretrain.vocab import expand_vocab

__all__ = ["MlmOptions", "MlmResult", "MlmScores", "TextScore", "TokenizerOptions", "expand_vocab", "score_mlm",
           "train_mlm", "train_tokenizer"]  # fmt: skip
