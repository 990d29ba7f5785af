"""Resuming `train embed` after a kill: the trainer writes each checkpoint folder in place (trainer_state.json last),
so a run killed while saving leaves a half-written checkpoint. Resuming must skip it (and remove it) and continue
from the last whole one, instead of failing on the missing file every time it is retried."""

from __future__ import annotations

import json
import shutil

import pytest

from emberta.errors import OptionError
from emberta.train import TrainConfig, train_embed
from emberta.train.embed import checkpoint_complete

WORDS = ["fox", "dog", "guitar", "weather", "book", "search", "cats", "numbers", "street", "breeze"]


@pytest.fixture
def pairs(tmp_path):
    path = tmp_path / "pairs.jsonl"
    rows = [{"anchor": f"what about the {w}", "positive": f"all about the {w}"} for w in WORDS] * 2
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_only_a_half_written_checkpoint_means_nothing_to_resume(tmp_path, pairs):
    checkpoints = tmp_path / "out.checkpoints"
    (checkpoints / "checkpoint-2").mkdir(parents=True)
    (checkpoints / "checkpoint-2" / "model.safetensors").write_bytes(b"\0" * 8)  # killed before the rest
    config = TrainConfig(model="unused", data=[str(pairs)], out=str(tmp_path / "out"), checkpoint_dir=str(checkpoints))
    with pytest.raises(OptionError, match="nothing to resume"):
        train_embed(config, resume=True)
    assert not (checkpoints / "checkpoint-2").exists()


def test_a_resume_skips_the_checkpoint_a_kill_left_half_written(tiny_models, tmp_path, pairs):
    out = tmp_path / "model"
    config = TrainConfig(model=str(tiny_models["bert-st"]), data=[str(pairs)], loss="mnrl", out=str(out), max_steps=4,
                         save_steps=2, batch_size=8, keep_checkpoints=True)  # fmt: skip
    train_embed(config)
    checkpoints = config.checkpoints
    assert checkpoint_complete(checkpoints / "checkpoint-2") and checkpoint_complete(checkpoints / "checkpoint-4")
    shutil.rmtree(out)  # as if the run had been killed while writing checkpoint-4's trainer state
    (checkpoints / "checkpoint-4" / "trainer_state.json").write_text('{"global_step": 4, "log_hi')
    assert not checkpoint_complete(checkpoints / "checkpoint-4")
    summary = train_embed(TrainConfig.for_run(resume=checkpoints), resume=True)
    assert summary["steps"] == 4 and (out / "emberta-train.json").is_file()
    assert checkpoint_complete(checkpoints / "checkpoint-4")  # saved again by the resumed run
