"""Staged writes: each build gets its own hidden folder or temporary file, and those left by killed writers go away."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from emberta.errors import OutputError
from emberta.io.atomic import atomic_writer, staged_dir


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


def test_temporary_files_of_killed_writers_are_removed_and_live_ones_kept(tmp_path):
    from emberta.io.atomic import write_text_atomic

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    abandoned = tmp_path / f".v.npy.{gone.pid}.abc.tmp"  # what a killed `emberta encode --out v.npy` leaves
    running = tmp_path / f".v.npy.{os.getpid()}.def.tmp"
    other = tmp_path / f".w.npy.{gone.pid}.ghi.tmp"  # another output's: left for that output's next writer
    for file in (abandoned, running, other):
        file.write_bytes(b"partial")
    write_text_atomic(tmp_path / "v.npy", "done")
    assert not abandoned.exists() and running.exists() and other.exists()
    assert (tmp_path / "v.npy").read_text() == "done"


def test_atomic_writer_shows_the_file_only_when_the_block_ends_and_maps_oserror(tmp_path):
    out = tmp_path / "rows.jsonl"
    with atomic_writer(out) as handle:
        handle.write("one\n")
        assert not out.exists()  # only the hidden temporary file exists while writing
    assert out.read_text(encoding="utf-8") == "one\n"
    match = r"--out .*rows\.jsonl: could not write \(No space left on device\); nothing was written"
    with pytest.raises(OutputError, match=match), atomic_writer(out) as handle:
        handle.write("two\n")
        raise OSError(28, "No space left on device")
    assert out.read_text(encoding="utf-8") == "one\n" and sorted(p.name for p in tmp_path.iterdir()) == ["rows.jsonl"]
    with atomic_writer(None) as handle:  # no output: written lines are discarded
        handle.write("three\n")
