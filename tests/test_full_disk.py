"""A filesystem that fills up in the middle of a write: an index add and `emberta encode --out` stop with a clear
error (an EmbertaError saying no space is left; exit status 2 from the CLI), and what was there before is intact:
the index reopens, passes its check and holds its old documents; no partial output file is left.

The filesystem is a 2 MiB tmpfs mounted for the test, which needs root (and a kernel that lets us mount); the
tests skip, saying why, where that is not allowed."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest
from typer.testing import CliRunner

from emberta.cli.main import app
from emberta.errors import EmbertaError
from emberta.index import Index
from emberta.index.maintenance import check_index

runner = CliRunner()
DIM = 64


@pytest.fixture
def small_disk(tmp_path):
    """A fresh 2 MiB tmpfs, unmounted after the test."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill needs root")
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)], capture_output=True,
                             text=True)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip() or mounted.returncode})")
    try:
        yield folder
    finally:
        if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill(folder, leave: int) -> None:
    """Write a filler file into `folder` until about `leave` bytes are free on its filesystem."""
    stats = os.statvfs(folder)
    free = stats.f_bavail * stats.f_frsize
    with open(folder / "filler", "wb") as handle:
        handle.write(b"\0" * max(0, free - leave))


def unit(rows: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(rows, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def assert_intact(path, old: np.ndarray) -> None:
    """The index at `path` passes its check and holds exactly the 50 documents written before the disk filled."""
    assert [p for p in check_index(path) if "behind" not in p and "stale" not in p] == []
    with Index.open(path) as index:
        assert len(index) == len(old)
        assert index.get("old-7").text == "old 7"
        (hit,) = index.search(old[7], 1, exact=True, include=())
        assert hit.id == "old-7" and hit.score == pytest.approx(1.0, abs=1e-5)


# vectors: the vector file overflows first; documents: the vectors fit and SQLite overflows
@pytest.mark.parametrize(("what", "rows", "text_size"), [("vectors", 3000, 10), ("documents", 300, 3000)])
def test_an_index_add_that_fills_the_disk_fails_clearly_and_keeps_the_index(small_disk, what, rows, text_size):
    path = small_disk / "idx"
    old = unit(50, 0)
    index = Index.create(path, model=None, dim=DIM, fingerprint="fp", ann="flat")
    index.add([f"old {i}" for i in range(50)], [f"old-{i}" for i in range(50)], vectors=old, fingerprint="fp")
    fill(small_disk, 160_000)
    texts = [f"new {i} " + "x" * text_size for i in range(rows)]
    with pytest.raises(EmbertaError, match="no space left on device"):
        index.add(texts, [f"new-{i}" for i in range(rows)], vectors=unit(rows, 1), fingerprint="fp")
    assert_intact(path, old)
    (small_disk / "filler").unlink()  # with space again, the same open index takes the batch
    index.add(texts, [f"new-{i}" for i in range(rows)], vectors=unit(rows, 1), fingerprint="fp")
    index.close()
    with Index.open(path) as reopened:
        assert len(reopened) == 50 + rows


def test_index_add_from_the_command_line_on_a_full_disk_exits_2(small_disk, tiny_models, tmp_path):
    path = small_disk / "idx"
    old = unit(50, 0)
    with Index.create(path, model=str(tiny_models["bert-st"])) as index:
        index.add([f"old {i}" for i in range(50)], [f"old-{i}" for i in range(50)])
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(f'{{"id": "new-{i}", "text": "new text {i} {"y" * 400}"}}\n' for i in range(800)))
    fill(small_disk, 100_000)
    result = runner.invoke(app, ["index", "add", str(path), str(source)])
    assert result.exit_code == 2, result.output
    assert "no space left on device" in result.output and "Traceback" not in result.output
    assert [p for p in check_index(path) if "behind" not in p and "stale" not in p] == []
    with Index.open(path) as index:
        assert len(index) == len(old) and index.get("old-7").text == "old 7"


def test_encode_out_on_a_full_disk_exits_2_and_leaves_the_old_output(small_disk, tiny_models, tmp_path):
    source = tmp_path / "texts.txt"
    source.write_text("".join(f"sentence number {i} about the fox and the dog\n" for i in range(1500)))
    out = small_disk / "vectors.npy"
    model = str(tiny_models["bert-st"])
    first = runner.invoke(app, ["encode", str(source), "--out", str(out), "--model", model, "--limit", "10", "-q"])
    assert first.exit_code == 0, first.output
    before = np.load(out)
    fill(small_disk, 40_000)
    result = runner.invoke(app, ["encode", str(source), "--out", str(out), "--model", model, "-q"])
    assert result.exit_code == 2, result.output
    assert "no space left on device" in result.output
    np.testing.assert_array_equal(np.load(out), before)  # the old output is untouched
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "vectors.npy", "vectors.npy.json"]
