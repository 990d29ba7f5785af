"""Staged folder writes: each build gets its own hidden folder, and folders left by killed builders go away."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from emberta.io.atomic import staged_dir


def test_a_staged_folder_becomes_the_output_or_nothing(tmp_path):
    out = tmp_path / "model"
    with staged_dir(out, "building") as staging:
        (staging / "weights").write_text("w")
    assert (out / "weights").read_text() == "w" and [p.name for p in tmp_path.iterdir()] == ["model"]
    with pytest.raises(RuntimeError), staged_dir(tmp_path / "other", "building") as staging:
        (staging / "half").write_text("h")
        raise RuntimeError("killed halfway")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_folders_of_killed_builders_are_removed_and_live_ones_kept(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    abandoned = tmp_path / f".idx.building.{gone.pid}.x1"
    running = tmp_path / f".idx.building.{os.getpid()}.x2"  # another build of this process, still going
    for folder in (abandoned, running):
        folder.mkdir()
    with staged_dir(tmp_path / "idx", "building") as staging:
        assert staging.parent == tmp_path and staging not in (abandoned, running)
    assert not abandoned.exists() and running.exists() and (tmp_path / "idx").is_dir()
