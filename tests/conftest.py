"""Fixtures: tiny random-weight BERT and RoBERTa encoders (tokenizers trained on a few sentences), saved as
plain Hugging Face folders and as sentence-transformers folders; paths to the real shared datasets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

REPO = Path(__file__).resolve().parents[1]


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", help="also run the tests marked slow (make test-slow)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="a long real-data run: `make test-slow` (pytest --run-slow) runs it")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


DATA_DIR = Path(os.environ.get("EMBERTA_DATA", REPO.parent / "shared" / "datasets"))

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "A man is playing a guitar on the street.",
    "Embeddings map sentences to vectors of numbers.",
    "RoBERTa and BERT are transformer encoders trained with masked language modelling.",
    "Sentence similarity compares the meaning of two texts.",
    "The weather today is sunny with a light breeze from the west.",
    "She reads a book about the history of mathematics and physics.",
    "Search engines rank documents by their relevance to a query.",
    "Cats sleep most of the day, dogs like to play outside.",
    "Numbers, punctuation, and UPPER case words: 42, 3.14, hello!",
]
SPECIALS_BERT = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
SPECIALS_ROBERTA = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def _bert_folder(path: Path) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, BertTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(CORPUS, trainers.WordPieceTrainer(vocab_size=200, special_tokens=SPECIALS_BERT))
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    tok.decoder = decoders.WordPiece()
    fast = BertTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=64,
    )
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(path)
    fast.save_pretrained(path)
    return path


def _roberta_folder(path: Path) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=SPECIALS_ROBERTA, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS, trainer)
    tok.post_processor = processors.RobertaProcessing(
        ("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>"))
    )
    fast = RobertaTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=64,
    )
    torch.manual_seed(1)
    config = RobertaConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=66,
        pad_token_id=tok.token_to_id("<pad>"),
        bos_token_id=tok.token_to_id("<s>"),
        eos_token_id=tok.token_to_id("</s>"),
    )
    RobertaModel(config).save_pretrained(path)
    fast.save_pretrained(path)
    return path


def _st_folder(hf_path: Path, path: Path, pooling: str) -> Path:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Normalize, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    transformer = Transformer(str(hf_path))
    modules = [transformer, Pooling(transformer.get_embedding_dimension(), pooling_mode=pooling), Normalize()]
    model = SentenceTransformer(modules=modules, device="cpu", prompts={"query": "query: ", "document": "passage: "})
    model.save(str(path))
    return path


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """{"bert", "roberta"}: plain HF folders; {"bert-st", "roberta-st"}: sentence-transformers folders
    (bert-st: cls pooling, roberta-st: mean pooling; both normalize and carry query/document prompts)."""
    root = tmp_path_factory.mktemp("models")
    bert = _bert_folder(root / "tiny-bert")
    roberta = _roberta_folder(root / "tiny-roberta")
    return {
        "bert": bert,
        "roberta": roberta,
        "bert-st": _st_folder(bert, root / "tiny-bert-st", "cls"),
        "roberta-st": _st_folder(roberta, root / "tiny-roberta-st", "mean"),
    }


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA_DIR / "stsbenchmark" / "test.jsonl").is_file():
        pytest.skip(f"shared datasets not found under {DATA_DIR} (set EMBERTA_DATA)")
    return DATA_DIR


@pytest.fixture(scope="session")
def real_encoder():
    """The default model (all-MiniLM-L6-v2), loaded once per session as `emberta.load_encoder("default")` loads
    it. torch's thread count is per process, so the fixture checks that no earlier test left it lowered: the
    real-model tests get every core a fresh process gets (no `threads` option here)."""
    import subprocess
    import sys

    import torch

    import emberta

    fresh = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.get_num_threads())"], capture_output=True, text=True
    )
    assert fresh.returncode == 0, fresh.stderr
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    encoder = emberta.load_encoder("default")
    assert torch.get_num_threads() == int(fresh.stdout) <= cores, (
        f"torch uses {torch.get_num_threads()} threads, a fresh process {fresh.stdout.strip()}, {cores} cores: "
        "an earlier test lowered torch's thread count"
    )
    return encoder


@pytest.fixture(scope="session")
def real_store():
    """One embedding cache in memory for every real-model test of the session: each text is encoded once by the
    default model, whichever test needs it first."""
    from emberta.cache import EmbeddingStore

    with EmbeddingStore(None) as store:
        yield store


@pytest.fixture(scope="session")
def other_architectures(tiny_models, tmp_path_factory) -> dict[str, Path]:
    """Plain HF folders of tiny DistilBERT, DeBERTa-v2, MPNet, ModernBERT and XLM-RoBERTa models, reusing the
    tiny BERT (WordPiece) or RoBERTa (BPE) tokenizer."""
    import torch
    from transformers import (
        AutoTokenizer,
        DebertaV2Config,
        DebertaV2Model,
        DistilBertConfig,
        DistilBertModel,
        ModernBertConfig,
        ModernBertModel,
        MPNetConfig,
        MPNetModel,
        XLMRobertaConfig,
        XLMRobertaModel,
    )

    wordpiece = AutoTokenizer.from_pretrained(tiny_models["bert"])
    bpe = AutoTokenizer.from_pretrained(tiny_models["roberta"])
    small = {"num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64, "hidden_size": 32}
    bpe_small = {**small, "vocab_size": len(bpe), "max_position_embeddings": 66, "pad_token_id": bpe.pad_token_id}
    specials = {name: getattr(wordpiece, name) for name in ("pad_token_id", "cls_token_id", "sep_token_id")}
    specs = {
        "distilbert": (
            DistilBertModel,
            DistilBertConfig(vocab_size=len(wordpiece), dim=32, n_layers=2, n_heads=2, hidden_dim=64),
            wordpiece,
        ),
        "deberta-v2": (
            DebertaV2Model,
            DebertaV2Config(vocab_size=len(wordpiece), max_position_embeddings=64, **small),
            wordpiece,
        ),
        "modernbert": (
            ModernBertModel,
            ModernBertConfig(vocab_size=len(wordpiece), max_position_embeddings=64, **small, **specials),
            wordpiece,
        ),
        "mpnet": (MPNetModel, MPNetConfig(**bpe_small), bpe),
        "xlm-roberta": (XLMRobertaModel, XLMRobertaConfig(**bpe_small), bpe),
    }
    root = tmp_path_factory.mktemp("architectures")
    folders = {}
    for name, (model_class, config, tokenizer) in specs.items():
        torch.manual_seed(0)
        model_class(config).save_pretrained(root / name)
        tokenizer.save_pretrained(root / name)
        folders[name] = root / name
    return folders


@pytest.fixture(scope="session")
def start_server():
    """start_server(app) -> base URL: runs the ASGI app under uvicorn on a free loopback port in a thread,
    stopped at the end of the session."""
    import socket
    import threading
    import time

    import uvicorn

    running = []

    def start(app) -> str:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        for _ in range(400):
            if server.started:
                break
            time.sleep(0.05)
        running.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in running:
        server.should_exit = True
        thread.join(timeout=10)
