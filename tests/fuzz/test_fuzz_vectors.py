"""Vector files read back (emberta.read_vectors): .npy and .parquet files written by emberta, then damaged
(truncated, bytes flipped, a header of another shape or dtype, NaN or infinite rows, an ids file or sidecar
that is cut, garbled or of another length), either read back as finite float32 rows, or raise an
EmbertaError naming one of the files; never another exception, and never rows other than those written when
the vector file itself is intact (a NaN or infinite row written is refused on reading)."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
from fuzz_support import budget, damaged, tried
from hypothesis import given
from hypothesis import strategies as st

from emberta.errors import EmbertaError
from emberta.io.vectors import ids_path, read_vectors, sidecar_path, write_vectors

DTYPES = ["<f4", "<f8", "<f2", ">f4", "<i4", "|u1", "|b1", "<c8"]


@st.composite
def matrices(draw) -> np.ndarray:
    rows, dim = draw(st.integers(0, 5)), draw(st.integers(1, 4))
    values = draw(st.lists(st.floats(-1e6, 1e6, width=32), min_size=rows * dim, max_size=rows * dim))
    matrix = np.asarray(values, dtype=np.float32).reshape(rows, dim)
    if rows and draw(st.integers(0, 4)) == 0:
        matrix[draw(st.integers(0, rows - 1)), draw(st.integers(0, dim - 1))] = draw(
            st.sampled_from([np.nan, np.inf, -np.inf])
        )
    return matrix


def npy_with_header(draw, matrix: np.ndarray) -> bytes:
    """The matrix's bytes under a random (maybe lying) .npy header: other shape, dtype or order."""
    rows, dim = matrix.shape
    shape = draw(st.sampled_from([(rows, dim), (rows + 1, dim), (rows * dim,), (dim, rows), (2**40, dim), (1, 1, dim)]))
    header = {"descr": draw(st.sampled_from(DTYPES)), "fortran_order": draw(st.booleans()), "shape": shape}
    sink = io.BytesIO()
    np.lib.format.write_array_header_1_0(sink, header)
    return sink.getvalue() + matrix.tobytes()


def damage_one(folder: Path, out: Path, draw) -> None:
    """Damage one of the files (the vector file, its sidecar, its ids file), or none."""
    files = [p for p in (out, sidecar_path(out), ids_path(out)) if p.is_file()]
    choice = draw(st.sampled_from(["none", "bytes", "header", "lines"]))
    target = draw(st.sampled_from(files))
    if choice == "bytes":
        target.write_bytes(draw(damaged(target.read_bytes())))
    elif choice == "header" and out.suffix == ".npy":
        out.write_bytes(npy_with_header(draw, np.load(out)))
    elif choice == "lines" and target != out:
        lines = target.read_text(encoding="utf-8").splitlines(keepends=True)
        target.write_text("".join(draw(st.permutations(lines))[: draw(st.integers(0, len(lines)))]))


@budget()
@given(matrices(), st.sampled_from([".npy", ".parquet"]), st.booleans(), st.data())
def test_vector_file_reads_its_rows_or_names_the_file(matrix, suffix, with_ids, data):
    tried("vectors" + suffix)
    ids = data.draw(st.lists(st.text(max_size=4), min_size=len(matrix), max_size=len(matrix))) if with_ids else None
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / f"v{suffix}"
        write_vectors(out, matrix if len(matrix) else np.zeros((0, matrix.shape[1]), np.float32), ids=ids)
        before = {p.name: p.read_bytes() for p in Path(folder).iterdir()}
        damage_one(Path(folder), out, data.draw)
        intact = {p.name for p in Path(folder).iterdir() if before.get(p.name) == p.read_bytes()}
        try:
            vectors, read_ids = read_vectors(out)
        except EmbertaError as exc:
            message = str(exc)
            assert message.startswith(str(out)) and "\n" not in message, message
            return
    assert vectors.dtype == np.float32 and vectors.ndim == 2 and np.isfinite(vectors).all()
    if out.name in intact:
        assert np.array_equal(vectors, matrix), "the rows read are not the rows written"
    if suffix == ".parquet" and out.name in intact:
        assert read_ids == (ids or [str(i) for i in range(len(matrix))])
    if suffix == ".npy" and ids_path(out).name in intact:
        assert read_ids == ids
