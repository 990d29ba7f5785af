"""Where a run was measured: library versions and the machine (CPU, cores, memory), recorded in each result
folder's model_meta.json beside the cost figures. Versions are read from package metadata; nothing is imported."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path

from emberta.version import __version__

PACKAGES = ("torch", "transformers", "sentence-transformers", "onnxruntime", "openvino", "model2vec", "numpy",
            "scikit-learn", "tokenizers")  # fmt: skip


def versions() -> dict[str, str | None]:
    """emberta's, Python's and the libraries' versions (None for one not installed)."""
    found: dict[str, str | None] = {"emberta": __version__, "python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def machine() -> dict:
    """CPU model, cores (all, and usable by this process), memory and OS."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "memory_bytes": _memory_bytes(),
        "os": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
        "python_executable": sys.executable,
    }


def _cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def proc_kib(path: str, key: str) -> int | None:
    """The `key:  N kB` line of a Linux /proc file (meminfo, self/status), in bytes; None without it."""
    file = Path(path)
    if file.is_file():
        for line in file.read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) * 1024
    return None


def _memory_bytes() -> int | None:
    total = proc_kib("/proc/meminfo", "MemTotal")
    if total is not None:
        return total
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
