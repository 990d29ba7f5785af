"""What every benchmark script shares: its command line, with --data-dir defaulting to the shared datasets.

Scripts run as `python benchmarks/<name>.py`, so this folder is on sys.path and they `from common import parser`.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

DATA_ENV = "EMBERTA_DATA"
# $EMBERTA_DATA, else the shared datasets beside the repository (../shared/datasets)
DEFAULT_DATA = Path(os.environ.get(DATA_ENV) or Path(__file__).resolve().parents[2] / "shared" / "datasets")


def parser(doc: str) -> argparse.ArgumentParser:
    """The argument parser of a benchmark script, given the script's docstring: its first paragraph is the
    description and the rest comes after the options, both as written. Holds --data-dir (default: DEFAULT_DATA)."""
    summary, _, details = doc.strip().partition("\n\n")
    result = argparse.ArgumentParser(
        description=summary,
        epilog=details.rstrip() or None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    result.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA,
        metavar="DIR",
        help=f"the datasets folder (default: ${DATA_ENV}, else ../shared/datasets beside the repository: %(default)s)",
    )
    return result
