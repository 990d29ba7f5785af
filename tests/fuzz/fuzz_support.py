"""What the fuzz tests share: the settings of the active budget (HYPOTHESIS_PROFILE: "ci", the default, or
"fuzz"; conftest.py registers both; EMBERTA_FUZZ_EXAMPLES=N overrides the examples per test), the file damage
strategy, and the count of inputs tried per parser, which conftest.py writes to build/fuzz-summary.json (or
the file EMBERTA_FUZZ_SUMMARY names) at the end of the session."""

from __future__ import annotations

import os
from collections import Counter

from hypothesis import settings
from hypothesis import strategies as st

PROFILES = ("ci", "fuzz")
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci") if os.environ.get("HYPOTHESIS_PROFILE") in PROFILES else "ci"

INPUTS: Counter = Counter()  # parser -> inputs tried
FAILURES: Counter = Counter()  # parser -> failed tests whose last input (Hypothesis' minimal example) it read
FAILED_TESTS: list[str] = []
_last_parser: dict[str, str] = {}
_current = {"test": ""}


def budget(share: float = 1.0) -> settings:
    """The active profile's settings, with `share` of its examples (a test whose inputs are costly takes less)."""
    base = settings.get_profile(PROFILE)
    examples = int(os.environ.get("EMBERTA_FUZZ_EXAMPLES") or base.max_examples)
    return settings(base, max_examples=max(1, round(examples * share)))


def tried(parser: str) -> None:
    """Count one input fed to `parser` (e.g. "readers.csv.gz") by the running test."""
    INPUTS[parser] += 1
    _last_parser[_current["test"]] = parser


def start_test(nodeid: str) -> None:
    _current["test"] = nodeid


def record_failure(nodeid: str) -> None:
    FAILED_TESTS.append(nodeid)
    FAILURES[_last_parser.get(nodeid, "(none)")] += 1


def summary() -> dict:
    """{"profile", "parsers": {parser: {"inputs", "failures"}}, "families": {family: {...}}, "failed_tests"}."""
    parsers = {name: {"inputs": INPUTS[name], "failures": FAILURES[name]} for name in sorted(INPUTS | FAILURES)}
    families: dict[str, dict[str, int]] = {}
    for name, counts in parsers.items():
        family = families.setdefault(name.split(".")[0], {"inputs": 0, "failures": 0})
        family["inputs"] += counts["inputs"]
        family["failures"] += counts["failures"]
    return {"profile": PROFILE, "parsers": parsers, "families": families, "failed_tests": FAILED_TESTS}


@st.composite
def damaged(draw, data: bytes) -> bytes:
    """`data` with a few random edits: flip, insert, delete, cut, repeat a slice, re-encode."""
    data = bytearray(data)
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "cut", "repeat", "latin1"]))
        at = draw(st.integers(0, len(data)))
        if kind == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4) | st.sampled_from([b'"', b"\n", b"{", b"[[[", b"\\u"]))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif kind == "cut":
            del data[at:]
        elif kind == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 16))]
        elif kind == "latin1":
            data = bytearray(data.decode("utf-8", "replace").encode("latin-1", "replace"))
    return bytes(data)
