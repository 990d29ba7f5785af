"""Masked-language models to pretrain: a new RoBERTa, or an existing encoder with an MLM head tied to its
embeddings; freezing the body; saving as a transformers + sentence-transformers folder."""

from __future__ import annotations

import json
import shutil
from contextlib import contextmanager
from pathlib import Path

from emberta.errors import ModelError

POOLING = {
    "word_embedding_dimension": None,
    "pooling_mode_cls_token": False,
    "pooling_mode_mean_tokens": True,
    "pooling_mode_max_tokens": False,
    "pooling_mode_mean_sqrt_len_tokens": False,
}


def load_tokenizer(folder: str | Path, option: str = "--tokenizer"):
    """A fast tokenizer from a local folder (an `emberta train tokenizer` output or a model folder)."""
    from transformers import AutoTokenizer

    folder = Path(folder)
    if not folder.is_dir():
        raise ModelError(f"{option} {folder}: no such folder; train one with `emberta train tokenizer`")
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelError(f"{option} {folder}: not a tokenizer folder ({str(exc).splitlines()[0]})") from None
    if not tokenizer.is_fast or tokenizer.mask_token_id is None:
        raise ModelError(f"{option} {folder}: needs a fast tokenizer with a mask token")
    return tokenizer


def new_roberta(tokenizer, config):
    """A randomly initialised RobertaForMaskedLM for `config` (see sizes.roberta_config)."""
    from transformers import RobertaForMaskedLM

    return RobertaForMaskedLM(config)


def load_for_mlm(spec: str):
    """(model, tokenizer, folder) for continued pretraining of the local model `spec` ("default", a
    sentence-transformers folder or a transformers encoder folder). A missing MLM head (sentence-transformers
    models keep only the encoder) is newly initialised, and its output layer tied to the word embeddings.
    Raises ModelError when the model has no masked-LM form or no word embeddings to tie the head to."""
    from transformers import AutoConfig, AutoModelForMaskedLM
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

    from emberta.encoders.model_folder import resolve_model_folder

    folder = resolve_model_folder(spec)
    config = AutoConfig.from_pretrained(folder.transformer_path, local_files_only=True)
    if config.model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES:
        raise ModelError(
            f"--from {spec}: a {config.model_type} model has no word embeddings to tie a masked-LM head to; "
            "give a BERT/RoBERTa-family encoder"
        )
    config.tie_word_embeddings = True
    with quiet_transformers():  # the load report lists the new head's weights as missing: expected here
        model = AutoModelForMaskedLM.from_pretrained(folder.transformer_path, config=config, local_files_only=True)
    check_tied(model, spec)
    tokenizer = load_tokenizer(folder.transformer_path, option="--from")
    return model, tokenizer, folder


@contextmanager
def quiet_transformers():
    """Silence transformers' load reports and progress bars inside the block."""
    from transformers.utils import logging

    level, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:  # as it was: other code (and other tests in this process) see the settings they set
        logging.set_verbosity(level)
        if bars:
            logging.enable_progress_bar()


def replace_vocabulary(model, tokenizer) -> None:
    """Give `model` a new vocabulary: token embeddings for `tokenizer`'s tokens, drawn anew from
    N(0, initializer_range²), and a zero output bias; the body is kept. With freeze_body this is the language
    transfer of Artetxe et al. 2020 ("On the Cross-lingual Transferability of Monolingual Representations") and
    the adaptation step of active forgetting (Chen et al. 2023)."""
    import torch

    from emberta.pretrain.forgetting import reset_token_embeddings

    model.resize_token_embeddings(len(tokenizer))
    reset_token_embeddings(model, model.config.initializer_range)
    bias = getattr(model.get_output_embeddings(), "bias", None)
    if bias is not None:
        with torch.no_grad():
            bias.zero_()
    for name in ("pad_token_id", "bos_token_id", "eos_token_id"):
        value = getattr(tokenizer, name, None)
        if value is not None:
            setattr(model.config, name, value)


def check_tied(model, spec: str) -> None:
    """Raise ModelError unless the model's output layer shares its input word-embedding matrix."""
    inputs, outputs = model.get_input_embeddings(), model.get_output_embeddings()
    weight_in = getattr(inputs, "weight", None)
    weight_out = getattr(outputs, "weight", None)
    if weight_in is None or weight_out is None or weight_in.data_ptr() != weight_out.data_ptr():
        raise ModelError(
            f"--from {spec}: the model has no word embeddings tied to its masked-LM output layer; "
            "give a BERT/RoBERTa-family encoder"
        )


def freeze_body(model) -> int:
    """Train only the token embeddings and the MLM head (language transfer, Artetxe et al. 2020): every other
    parameter (layers, position embeddings, embedding LayerNorm) stops learning. Returns the trainable count."""
    embedding = model.get_input_embeddings().weight
    head = mlm_head(model)
    keep = {id(embedding)} | {id(p) for p in (head.parameters() if head is not None else ())}
    for parameter in model.parameters():
        parameter.requires_grad = id(parameter) in keep
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def mlm_head(model):
    """The prediction head of a *ForMaskedLM model (BERT's `cls`, RoBERTa's `lm_head`), or None."""
    for name in ("lm_head", "cls"):
        head = getattr(model, name, None)
        if head is not None:
            return head
    return None


def save_encoder_folder(model, tokenizer, staging: Path, *, max_length: int, source=None) -> None:
    """Write `model` (with its MLM head) and `tokenizer` into `staging` as a transformers folder plus a
    sentence-transformers config: the source model's pooling/normalize modules when it was a
    sentence-transformers folder, else mean pooling."""
    with quiet_transformers():
        model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}]
    if source is not None and source.kind == "sentence-transformers":
        modules += _copy_modules(source.path, staging)
        if (source.path / "config_sentence_transformers.json").is_file():
            shutil.copy(source.path / "config_sentence_transformers.json", staging)
    if len(modules) == 1:
        pooling = dict(POOLING, word_embedding_dimension=model.config.hidden_size)
        (staging / "1_Pooling").mkdir()
        _write_json(staging / "1_Pooling" / "config.json", pooling)
        modules.append({"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"})
    _write_json(staging / "modules.json", modules)
    _write_json(staging / "sentence_bert_config.json", {"max_seq_length": max_length, "do_lower_case": False})


def _copy_modules(source: Path, staging: Path) -> list[dict]:
    entries = json.loads((source / "modules.json").read_text(encoding="utf-8"))
    kept = []
    for entry in entries:
        if entry.get("type", "").rsplit(".", 1)[-1] == "Transformer":
            continue
        if entry.get("path") and (source / entry["path"]).is_dir():
            shutil.copytree(source / entry["path"], staging / entry["path"])
        kept.append(dict(entry, idx=len(kept) + 1))
    return kept


def _write_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")
