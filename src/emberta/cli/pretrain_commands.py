"""Pretrain stage: `emberta train tokenizer`, `emberta train mlm`. Parsing and printing only."""

from __future__ import annotations

from pathlib import Path

import typer

from emberta.cli.common import echo_err, handle_errors
from emberta.cli.train_commands import train_app

FIELD = typer.Option("text", help="JSONL corpus files: the field holding the text.")
ERRORS = typer.Option("strict", help="Bytes that are not UTF-8: strict (stop, naming file:line) or replace.")
QUIET = typer.Option(False, "--quiet", "-q", help="No progress lines.")


@train_app.command("tokenizer")
@handle_errors
def tokenizer(
    files: list[Path] = typer.Argument(..., help="Corpus files: .txt (one text a line) or .jsonl, optionally .gz."),
    out: Path = typer.Option(..., "--out", "-o", help="The tokenizer folder to create (loads with AutoTokenizer)."),
    kind: str = typer.Option("bpe", help="bpe (byte-level, RoBERTa's special tokens), wordpiece (BERT's), unigram."),
    vocab_size: int = typer.Option(8000, help="Tokens in the vocabulary, special tokens included."),
    min_frequency: int = typer.Option(2, help="bpe / wordpiece: merges seen fewer times are not learnt."),
    lowercase: bool = typer.Option(False, "--lowercase", help="Lower-case texts before tokenizing."),
    held_out: float = typer.Option(0.02, help="Share of texts kept out of training to measure fertility."),
    compare: list[str] = typer.Option([], "--compare", help="Also measure this model's tokenizer (repeatable)."),
    field: str = FIELD,
    errors: str = ERRORS,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --out when it exists."),
    quiet: bool = QUIET,
) -> None:
    """Train a tokenizer on text files; report fertility (tokens per word) on held-out texts."""
    from emberta.pretrain.tokenizer_training import TokenizerOptions, train_tokenizer

    options = TokenizerOptions(kind=kind, vocab_size=vocab_size, min_frequency=min_frequency, lowercase=lowercase,
                               held_out=held_out, field=field, errors=errors, compare=list(compare),
                               overwrite=overwrite)  # fmt: skip
    report = train_tokenizer(files, out, options)
    if not quiet:
        echo_err(f"wrote {kind} tokenizer ({report['vocab_size']} tokens) to {out}")
        for name, value in report["fertility"].items():
            echo_err(f"fertility (tokens per word, {report['heldout_texts']} held-out texts): {name} {value:.3f}")


@train_app.command("mlm")
@handle_errors
def mlm(
    corpus: list[Path] = typer.Option(..., "--corpus", help="Corpus files (repeatable): .txt or .jsonl, maybe .gz."),
    out: Path = typer.Option(..., "--out", "-o", help="The model folder to create."),
    from_model: str | None = typer.Option(None, "--from", help="Continue this model ('default' or a folder)."),
    tokenizer: Path | None = typer.Option(
        None, help="From scratch: an `emberta train tokenizer` folder; with --from: new token embeddings for it."
    ),
    size: str | None = typer.Option(None, help="From scratch: tiny | mini | small | base (default tiny)."),
    config: Path | None = typer.Option(None, help="From scratch: a JSON of RobertaConfig fields instead of --size."),
    eval_corpus: list[Path] = typer.Option([], "--eval-corpus", help="Held-out files (default: --held-out share)."),
    held_out: float = typer.Option(0.05, help="Share of corpus texts held out (by text hash) without --eval-corpus."),
    eval_blocks: int = typer.Option(200, help="Held-out blocks scored at each evaluation."),
    mask_rate: float = typer.Option(0.15, help="Share of tokens (or words) masked, in (0, 1)."),
    whole_word: bool = typer.Option(False, "--whole-word", help="Mask whole words, not single tokens."),
    max_length: int = typer.Option(128, help="Tokens per packed training block."),
    batch_size: int = typer.Option(32, help="Blocks per step (per device)."),
    lr: float | None = typer.Option(None, help="Peak learning rate (default 5e-4 from scratch, 1e-4 with --from)."),
    warmup: float = typer.Option(0.06, help="Warm-up, as a fraction of the steps."),
    max_steps: int = typer.Option(-1, help="Stop after N steps (-1: run --epochs)."),
    epochs: float = typer.Option(1.0, help="Passes over the corpus."),
    eval_steps: int = typer.Option(0, help="Held-out evaluation every N steps (0: ten times)."),
    forget_every: int = typer.Option(0, help="Active forgetting: re-initialise token embeddings every K steps."),
    freeze_body: bool = typer.Option(False, "--freeze-body", help="Train only token embeddings and the MLM head."),
    seed: int = typer.Option(0, help="Seed of initialisation, shuffling and masking."),
    save_steps: int = typer.Option(500, help="Checkpoint every N steps."),
    checkpoint_dir: Path | None = typer.Option(None, help="Checkpoints folder (default: OUT.checkpoints)."),
    resume: Path | None = typer.Option(None, help="Continue a stopped run from its checkpoints folder."),
    keep_checkpoints: bool = typer.Option(False, help="Keep the checkpoints after a finished run."),
    field: str = FIELD,
    errors: str = ERRORS,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --out when it exists."),
    quiet: bool = QUIET,
) -> None:
    """Masked-language-model pretraining: from scratch (--tokenizer, --size) or continuing a model (--from)."""
    from emberta.pretrain.mlm import MlmOptions, train_mlm

    options = MlmOptions(
        from_model=from_model, tokenizer=tokenizer, size=size, config=config, field=field, errors=errors,
        eval_corpus=list(eval_corpus), held_out=held_out, eval_blocks=eval_blocks, mask_rate=mask_rate,
        whole_word=whole_word, max_length=max_length, batch_size=batch_size, lr=lr, warmup=warmup,
        max_steps=max_steps, epochs=epochs, eval_steps=eval_steps, forget_every=forget_every,
        freeze_body=freeze_body, seed=seed, save_steps=save_steps, checkpoint_dir=checkpoint_dir, resume=resume,
        keep_checkpoints=keep_checkpoints, overwrite=overwrite,
    )  # fmt: skip
    result = train_mlm(corpus, out, options, report=None if quiet else _progress_line)
    if not quiet:
        corpus_size = f"corpus {result.texts} texts, {result.tokens} tokens"
        echo_err(f"wrote masked-LM encoder ({result.steps} steps; {corpus_size}) to {out}")
        if result.history:
            echo_err(f"held-out perplexity: {result.perplexity_before:.2f} -> {result.perplexity_after:.2f}")


def _progress_line(row: dict) -> None:
    if "eval_perplexity" in row:
        echo_err(f"step {row['step']}: held-out loss {row['eval_loss']:.4f}, perplexity {row['eval_perplexity']:.2f}")
    else:
        echo_err(f"step {row['step']}: training loss {row['loss']:.4f}")
