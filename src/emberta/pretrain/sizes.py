"""RoBERTa model sizes for pretraining from scratch (the BERT miniatures' ladder: Turc et al. 2019)."""

from __future__ import annotations

import json
from pathlib import Path

from emberta.errors import InputError, OptionError

# name: (layers, hidden, heads, intermediate)
SIZES = {
    "tiny": (2, 128, 2, 512),
    "mini": (4, 256, 4, 1024),
    "small": (4, 512, 8, 2048),
    "base": (12, 768, 12, 3072),
}


def check_size(size: str) -> None:
    """Raise OptionError unless `size` is one of SIZES."""
    if size not in SIZES:
        raise OptionError(f"--size {size!r} is unknown; choose one of {', '.join(SIZES)} (or give --config FILE)")


def roberta_config(tokenizer, *, size: str | None = None, config_file: Path | None = None, max_length: int = 512):
    """A transformers RobertaConfig for `tokenizer` (vocab size and special ids taken from it).

    size: tiny | mini | small | base (SIZES), or config_file: a JSON of RobertaConfig fields (hidden_size,
    num_hidden_layers, ...; vocabulary and special ids still come from the tokenizer). max_length: longest
    sequence in tokens (positions are max_length + 2, RoBERTa's padding offset)."""
    from transformers import RobertaConfig

    fields = _config_fields(size, config_file)
    fields.setdefault("max_position_embeddings", max_length + 2)
    fields.update(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.cls_token_id,
        eos_token_id=tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id,
        type_vocab_size=1,
        tie_word_embeddings=True,
    )
    if fields["max_position_embeddings"] < max_length + 2:
        raise OptionError(
            f"--max-length {max_length} needs max_position_embeddings >= {max_length + 2} in the config; "
            "lower --max-length or raise it"
        )
    return RobertaConfig(**fields)


def _config_fields(size: str | None, config_file: Path | None) -> dict:
    if config_file is not None:
        try:
            fields = json.loads(Path(config_file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read the model config ({exc})", path=config_file) from None
        if not isinstance(fields, dict):
            raise InputError("a model config is a JSON object of RobertaConfig fields", path=config_file)
        return fields
    check_size(size or "")
    layers, hidden, heads, intermediate = SIZES[size]
    return {
        "num_hidden_layers": layers,
        "hidden_size": hidden,
        "num_attention_heads": heads,
        "intermediate_size": intermediate,
    }
