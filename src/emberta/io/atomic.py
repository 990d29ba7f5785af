"""Write files so that readers see either the old file or the complete new one, never a partial one."""

from __future__ import annotations

import errno
import glob
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from emberta.errors import OutputError


def check_writable_dir(path: str | Path, option: str = "--out") -> Path:
    """Raise OutputError unless the parent directory of `path` exists and is a directory."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise OutputError(
            f"{option} {path}: directory {parent} does not exist; create it (mkdir -p {parent}) or choose another path"
        )
    if not parent.is_dir():
        raise OutputError(f"{option} {path}: {parent} is not a directory")
    if path.is_dir():
        raise OutputError(f"{option} {path} is a directory; give a file name such as {path / 'vectors.npy'}")
    return path


def temp_path_for(path: Path) -> Path:
    """A fresh hidden temporary file beside `path` (same filesystem, so os.replace is atomic), named
    .NAME.PID.*.tmp; those a killed process left for the same `path` are removed first."""
    prefix = f".{path.name}."
    _remove_abandoned(path.parent, prefix)
    fd, name = tempfile.mkstemp(prefix=f"{prefix}{os.getpid()}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(name, 0o666 & ~_umask())  # mkstemp makes 0600; the final file gets the usual permissions
    return Path(name)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename."""
    path = Path(path)
    tmp = temp_path_for(path)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_writer(out: Path | None, option: str = "--out") -> Iterator[TextIO]:
    """A UTF-8 text handle whose content appears at `out` only when the block ends without an error (a temporary
    file beside it, then a rename); out=None: a handle that discards what is written. An OSError inside the block
    becomes OutputError naming `option` and `out`, and nothing is left at `out`."""
    tmp = temp_path_for(out) if out is not None else None
    try:
        with open(tmp if tmp is not None else os.devnull, "w", encoding="utf-8") as handle:
            yield handle
        if tmp is not None:
            os.replace(tmp, out)
    except OSError as exc:
        raise OutputError(f"{option} {out}: could not write ({exc.strerror}); nothing was written") from None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def replace_dir(staging: Path, out: Path) -> None:
    """Move the finished folder `staging` to `out` (same filesystem), replacing an existing `out` so that `out`
    is never half-written: the two folders are exchanged in one step where the kernel can (Linux renameat2),
    else the old folder is moved aside first; the old one is removed after."""
    if out.exists() and exchange_paths(staging, out):
        shutil.rmtree(staging, ignore_errors=True)  # now the old folder
    elif out.exists():
        old = out.with_name(f".{out.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(out, old)
        os.replace(staging, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, out)


def exchange_paths(first: Path, second: Path) -> bool:
    """Swap two existing paths atomically (renameat2 with RENAME_EXCHANGE), so no one ever finds either
    missing. Returns False, changing nothing, where the C library, kernel or filesystem lacks it."""
    import ctypes

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    names = [os.fsencode(str(p)) for p in (first, second)]
    if renameat2(at_fdcwd, names[0], at_fdcwd, names[1], rename_exchange) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(error, os.strerror(error), str(first))


@contextmanager
def staged_dir(out: Path, label: str = "staging") -> Iterator[Path]:
    """A new, empty hidden folder beside `out` to build into (its own, so two processes building the same `out`
    never share one); moved to `out` (replace_dir) when the block ends, removed when it raises, so `out` is
    either the complete result or untouched. Folders that killed builders left behind are removed first."""
    out = Path(out)
    prefix = f".{out.name}.{label}."
    _remove_abandoned(out.parent, prefix)
    staging = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}.", dir=out.parent))
    os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes 0700; the finished folder gets the usual permissions
    try:
        yield staging
        replace_dir(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _remove_abandoned(folder: Path, prefix: str) -> None:
    """Remove the staging folders and temporary files `prefix`PID.* in `folder` whose process PID is gone (it
    was killed)."""
    for stale in folder.glob(glob.escape(prefix) + "*"):
        pid = stale.name[len(prefix) :].split(".", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process, or not a pid: leave it
        return True
    return True


def disk_full(exc: BaseException) -> bool:
    """Whether `exc` means the filesystem is full: an OSError with ENOSPC or EDQUOT, SQLite's SQLITE_FULL, or
    FAISS's failed write (a RuntimeError naming the errno's text)."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, sqlite3.OperationalError):
        return getattr(exc, "sqlite_errorname", "") == "SQLITE_FULL" or "disk is full" in str(exc)
    return isinstance(exc, RuntimeError) and os.strerror(errno.ENOSPC) in str(exc)
