"""Train a subword tokenizer (tokenizers library) on a streamed corpus; measure its fertility."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from emberta.errors import OptionError
from emberta.io.atomic import staged_dir

KINDS = ("bpe", "wordpiece", "unigram")
ROBERTA_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
BYTE_ALPHABET = 256
FERTILITY_TEXTS = 2000
REPORT_FILE = "emberta-tokenizer.json"


@dataclass
class TokenizerOptions:
    """Options of `train_tokenizer`: kind (bpe | wordpiece | unigram), vocab_size (special tokens included),
    min_frequency (bpe, wordpiece), lowercase, held_out (share of texts kept out to measure fertility, chosen by
    text hash), field and errors (see corpus.Corpus), compare (model specs whose tokenizers are measured too),
    overwrite."""

    kind: str = "bpe"
    vocab_size: int = 8000
    min_frequency: int = 2
    lowercase: bool = False
    held_out: float = 0.02
    field: str = "text"
    errors: str = "strict"
    compare: list[str] = dataclasses.field(default_factory=list)
    overwrite: bool = False


def check_options(options: TokenizerOptions) -> None:
    """Raise OptionError for an unknown kind or a vocabulary too small for the special tokens (and, for
    byte-level BPE, the 256-byte alphabet)."""
    if options.kind not in KINDS:
        raise OptionError(f"--kind {options.kind!r} is unknown; choose one of {', '.join(KINDS)}")
    floor = len(ROBERTA_SPECIALS) + (BYTE_ALPHABET if options.kind == "bpe" else 1)
    if options.vocab_size < floor:
        what = "5 special tokens plus the 256-byte alphabet" if options.kind == "bpe" else "5 special tokens"
        raise OptionError(f"--vocab-size {options.vocab_size} is smaller than the {what}; give at least {floor}")
    if options.min_frequency < 1:
        raise OptionError("--min-frequency must be at least 1")
    if not 0.0 <= options.held_out < 1.0:
        raise OptionError(f"--held-out {options.held_out}: give a fraction in [0, 1)")


def build_tokenizer(kind: str, vocab_size: int, min_frequency: int, lowercase: bool):
    """(an untrained tokenizers.Tokenizer, its trainer, its special tokens) for `kind`: byte-level BPE with
    RoBERTa's special tokens; BERT's WordPiece; or a SentencePiece-style unigram model (RoBERTa's specials)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    if kind == "wordpiece":
        tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tokenizer.normalizer = normalizers.BertNormalizer(lowercase=lowercase, strip_accents=None)
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tokenizer.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                            special_tokens=BERT_SPECIALS)  # fmt: skip
        return tokenizer, trainer, BERT_SPECIALS
    if kind == "bpe":
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                      special_tokens=ROBERTA_SPECIALS,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())  # fmt: skip
    else:
        tokenizer = Tokenizer(models.Unigram())
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
        tokenizer.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=ROBERTA_SPECIALS, unk_token="<unk>")
    if lowercase:
        tokenizer.normalizer = normalizers.Lowercase()
    return tokenizer, trainer, ROBERTA_SPECIALS


def wrap(tokenizer, kind: str):
    """A transformers fast tokenizer around a trained tokenizers.Tokenizer, with the special tokens named and
    the <s> ... </s> (or [CLS] ... [SEP]) template; `save_pretrained` gives a folder AutoTokenizer loads."""
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    if kind == "wordpiece":
        names = dict(cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]", unk_token="[UNK]", mask_token="[MASK]")
        first, last = "[CLS]", "[SEP]"
    else:
        names = dict(bos_token="<s>", eos_token="</s>", cls_token="<s>", sep_token="</s>", pad_token="<pad>",
                     unk_token="<unk>", mask_token="<mask>")  # fmt: skip
        first, last = "<s>", "</s>"
    ids = {name: tokenizer.token_to_id(name) for name in (first, last)}
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{first} $A {last}", pair=f"{first} $A {last} {last} $B {last}", special_tokens=list(ids.items())
    )
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, model_max_length=512, **names)


def fertility(tokenizer, texts: Sequence[str]) -> float:
    """Tokens per whitespace-separated word of `texts` (special tokens not counted): 1.0 means every word is
    one token; higher means words are cut into more pieces."""
    words = sum(len(text.split()) for text in texts)
    if not words:
        return float("nan")
    pieces = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    return sum(len(p) for p in pieces) / words


def train_tokenizer(files: Sequence[str | Path], out: str | Path, options: TokenizerOptions) -> dict:
    """Train a tokenizer on the texts of `files` (streamed, deduplicated) and write it to `out` (atomically) with
    emberta-tokenizer.json. Returns the report: vocab_size, kind, fertility {name: tokens per word} on the
    held-out texts (this tokenizer, then each --compare model), heldout_texts, training texts."""
    from emberta.pretrain.corpus import Corpus, held_out
    from emberta.pretrain.mlm import check_out

    check_options(options)
    out = check_out(Path(out), options.overwrite)
    compared = {spec: _compare_tokenizer(spec) for spec in options.compare}
    corpus = Corpus(files, field=options.field, errors=options.errors)
    corpus.require_text()
    heldout: list[str] = []

    def training_texts() -> Iterable[str]:
        for text in corpus:
            if held_out(text, options.held_out):
                if len(heldout) < FERTILITY_TEXTS:
                    heldout.append(text)
                continue
            yield text

    tokenizer, trainer, _ = build_tokenizer(options.kind, options.vocab_size, options.min_frequency, options.lowercase)
    tokenizer.train_from_iterator(training_texts(), trainer=trainer)
    _check_trained(tokenizer, options)
    wrapped = wrap(tokenizer, options.kind)
    sample = heldout or [t for _, t in zip(range(FERTILITY_TEXTS), corpus, strict=False)]
    scores = {"trained": fertility(wrapped, sample)}
    scores.update({spec: fertility(other, sample) for spec, other in compared.items()})
    report = {"kind": options.kind, "vocab_size": len(wrapped), "texts": corpus.stats.texts - len(heldout),
              "heldout_texts": len(heldout), "fertility_on": "held-out" if heldout else "training texts",
              "fertility": scores, "options": {k: v for k, v in vars(options).items() if k != "overwrite"}}  # fmt: skip
    with staged_dir(out) as staging:
        wrapped.save_pretrained(staging)
        (staging / REPORT_FILE).write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    return report


def _check_trained(tokenizer, options: TokenizerOptions) -> None:
    size = tokenizer.get_vocab_size()
    if size > options.vocab_size:  # the alphabet alone is larger than the vocabulary asked for
        raise OptionError(
            f"--vocab-size {options.vocab_size} is smaller than the special tokens plus the corpus's "
            f"{size - 5} alphabet characters; give at least {size}"
        )


def _compare_tokenizer(spec: str):
    from emberta.encoders.model_folder import resolve_model_folder
    from emberta.pretrain.models import load_tokenizer

    return load_tokenizer(resolve_model_folder(spec).transformer_path, option="--compare")
