"""The crash campaigns of crash.py for the two long jobs that need a model: `emberta encode --out` and training
checkpoints (`emberta train embed`, resumed with --resume). Both use a tiny random-weight BERT built here (a
WordPiece tokenizer trained on the input texts).

encode: a static model distilled from the tiny BERT (so a run is the encoding, not torch's import) encodes
100,000 lines; each run is killed at a random moment, and the output path must then hold nothing, or (when the
run had finished) the complete file. Hidden temporary files left beside it are counted. A last run without a
kill must give the same vectors as an uninterrupted reference run.

train: a run is started, killed at a random moment of its training (timed from when it writes its
emberta-train.json, after torch is imported), then resumed from its checkpoints (or started again when there
are none), and so on. After each kill every checkpoint folder is checked whole (trainer_state.json readable and
naming its step, weights and optimizer state present), the output folder absent or complete; a run that fails
instead of continuing is counted. A last run without a kill must reach the last step.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

COMMAND = [sys.executable, "-m", "emberta.cli.main"]
TRAIN_STEPS = 30
ENCODE_LINES = 100_000  # 25 blocks of emberta encode's 4096 rows


def texts(data_dir: Path, n: int) -> list[str]:
    """`n` distinct sentences of the STS Benchmark training split, or made-up ones without the datasets."""
    source = data_dir / "stsbenchmark" / "train.jsonl"
    if source.is_file():
        rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()]
        found = list(dict.fromkeys(t for r in rows for t in (r["sentence1"], r["sentence2"])))
        if len(found) >= n:
            return found[:n]
    return [f"sentence number {i} about topic {i % 37} and thing {i % 11}" for i in range(n)]


def tiny_model(folder: Path, corpus: list[str]) -> Path:
    """A plain Hugging Face BERT folder (2 layers, width 32) with a WordPiece tokenizer trained on `corpus`."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, BertTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(corpus, trainers.WordPieceTrainer(vocab_size=500, special_tokens=specials))
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    tok.decoder = decoders.WordPiece()
    fast = BertTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                             sep_token="[SEP]", mask_token="[MASK]", model_max_length=64)  # fmt: skip
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64)  # fmt: skip
    BertModel(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def signature(path: Path | None) -> tuple | None:
    """(inode, mtime) of `path`, None when missing: a file rewritten atomically gets a new one."""
    try:
        stats = path.stat()
    except (OSError, AttributeError):
        return None
    return stats.st_ino, stats.st_mtime_ns


def timed_run(args: list[str], delay: float | None, marker: Path | None = None) -> tuple[str, float]:
    """Run the CLI with `args`; SIGKILL it `delay` seconds (None: never) after it starts, or after it rewrites
    `marker` when given (so the kill lands in the work, not in importing torch). Returns (how it ended:
    "killed", "finished" or "failed (status): <stderr tail>", seconds from the start or from the marker)."""
    before = signature(marker)
    start = time.perf_counter()
    child = subprocess.Popen([*COMMAND, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while marker is not None and child.poll() is None and signature(marker) == before:
        time.sleep(0.02)
    start = time.perf_counter() if marker is not None else start
    try:
        _, err = child.communicate(timeout=delay)
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGKILL)
        child.communicate()
        return "killed", time.perf_counter() - start
    ended = "finished" if child.returncode == 0 else f"failed ({child.returncode}): {err.strip()[-300:]}"
    return ended, time.perf_counter() - start


def encode_campaign(work: Path, kills: int, seed: int, data_dir: Path = Path()) -> dict:
    """Kill `emberta encode --out` `kills` times; returns the counts."""
    rng = random.Random(seed)
    work.mkdir(parents=True, exist_ok=True)
    corpus = texts(data_dir, 6000)
    lines = [f"{corpus[i % len(corpus)]} ({i})" for i in range(ENCODE_LINES)]
    (work / "in.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    from emberta.encoders.static_distill import distill_static

    model = distill_static(tiny_model(work / "tiny-bert", corpus), work / "tiny-static", dims=16)
    args = ["encode", str(work / "in.txt"), "--model", f"static:{model}", "-q", "--out"]
    ended, full = timed_run([*args, str(work / "reference.npy")], None)
    assert ended == "finished", ended
    reference = np.load(work / "reference.npy")
    out = work / "out.npy"
    counts = {"kills": kills, "killed_mid_run": 0, "finished_before_kill": 0, "partial_outputs": 0,
              "complete_without_sidecar": 0, "failed_runs": 0}  # fmt: skip
    sidecar = Path(f"{out}.json")
    for _ in range(kills):
        ended, _ = timed_run([*args, str(out)], rng.uniform(0.3 * full, 1.1 * full))
        counts["killed_mid_run"] += ended == "killed"
        counts["finished_before_kill"] += ended == "finished"
        counts["failed_runs"] += ended.startswith("failed")
        if out.exists() or sidecar.exists():
            complete = out.exists() and np.array_equal(np.load(out), reference)
            counts["partial_outputs"] += not complete
            counts["complete_without_sidecar"] += complete and not sidecar.exists()  # killed between the renames
            out.unlink(missing_ok=True)
            sidecar.unlink(missing_ok=True)
    counts["leftover_temp_files"] = len(list(work.glob(".out.npy*")))
    ended, _ = timed_run([*args, str(out)], None)
    counts["last_run"] = ended
    counts["last_run_matches_reference"] = ended == "finished" and bool(np.allclose(np.load(out), reference))
    counts["survived"] = kills - counts["partial_outputs"] - counts["failed_runs"]
    counts["resume"] = "emberta encode has no --resume: a killed run is started again"
    counts["reference_run_seconds"] = round(full, 1)
    return counts


def checkpoint_problems(folder: Path) -> list[str]:
    """What is missing from the checkpoint folders in `folder` (one entry per incomplete checkpoint)."""
    problems = []
    for checkpoint in sorted(folder.glob("checkpoint-*")):
        step = checkpoint.name.rsplit("-", 1)[-1]
        try:
            state = json.loads((checkpoint / "trainer_state.json").read_text())
            whole = str(state["global_step"]) == step
        except (OSError, ValueError, KeyError):
            whole = False
        weights = any(checkpoint.glob("*.safetensors")) or any(checkpoint.glob("*.bin"))
        if not (whole and weights and (checkpoint / "optimizer.pt").is_file()):
            problems.append(checkpoint.name)
    return problems


def train_run(args: list[str], checkpoints: Path, delay: float | None) -> str:
    """One training run: resumed from `checkpoints` when they hold any, else `args` (a fresh run), killed
    `delay` seconds (None: never) after it starts training (when it rewrites its emberta-train.json). Returns
    how it ended (timed_run)."""
    resume = any(checkpoints.glob("checkpoint-*"))
    args = ["train", "embed", "--resume", str(checkpoints), "-q"] if resume else args
    return timed_run(args, delay, checkpoints / "emberta-train.json")[0]


def train_campaign(work: Path, kills: int, seed: int, data_dir: Path = Path()) -> dict:
    """Kill `emberta train embed` `kills` times, resuming after each kill (a finished run starts a new one);
    returns the counts."""
    rng = random.Random(seed)
    work.mkdir(parents=True, exist_ok=True)
    corpus = texts(data_dir, 800)
    pairs = [{"anchor": a, "positive": b} for a, b in zip(corpus[::2], corpus[1::2], strict=True)]
    (work / "pairs.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pairs), encoding="utf-8")
    model = tiny_model(work / "tiny-bert", corpus)
    out, checkpoints = work / "trained", work / "trained.checkpoints"
    base = ["train", "embed", "--model", str(model), "--data", str(work / "pairs.jsonl"), "--loss", "mnrl",
            "--max-steps", str(TRAIN_STEPS), "--save-steps", "1", "--batch-size", "8", "-q", "--out"]  # fmt: skip
    ended, full = timed_run([*base, str(work / "reference")], None, work / "reference.checkpoints/emberta-train.json")
    assert ended == "finished", ended
    counts = Counter()
    failures = []
    for _ in range(kills):
        if out.exists():  # the last run got to the end before its kill: start another
            shutil.rmtree(out)
            shutil.rmtree(checkpoints, ignore_errors=True)
        counts["resumes"] += any(checkpoints.glob("checkpoint-*"))
        ended = train_run([*base, str(out)], checkpoints, rng.uniform(0.0, 0.8 * full))
        counts["killed_mid_run" if ended == "killed" else "finished_before_kill"] += 1
        if ended.startswith("failed"):
            counts["failed_runs"] += 1
            failures.append(ended)
        counts["half_written_checkpoints_left"] += len(checkpoint_problems(checkpoints))
        counts["partial_outputs"] += out.exists() and not (out / "emberta-train.json").is_file()
    if out.exists():
        shutil.rmtree(out)
    last = train_run([*base, str(out)], checkpoints, None)
    summary = json.loads((out / "emberta-train.json").read_text())["summary"] if out.exists() else {}
    runs = counts["killed_mid_run"] + counts["finished_before_kill"]
    return {"kills": runs, **dict(counts), "last_run": last, "last_run_steps": summary.get("steps"),
            "survived": runs - counts["failed_runs"] - counts["partial_outputs"], "failures": failures[:3],
            "reference_run_seconds": round(full, 1)}  # fmt: skip


CAMPAIGNS = {"encode": encode_campaign, "train": train_campaign}
