"""Budgets of the fuzz tests and their summary.

Two Hypothesis profiles: "ci" (the default: a few dozen examples per test, derandomized so that `make test` is
deterministic) and "fuzz" (HYPOTHESIS_PROFILE=fuzz: 10,000 examples per test, random). The tests take their
settings from fuzz_support.budget() rather than a global load_profile, so other tests' Hypothesis settings
are left alone. At the end of a session that ran fuzz tests, the inputs tried and the failures per parser are
written as JSON to build/fuzz-summary.json (merged under "parsers" into EMBERTA_FUZZ_SUMMARY when set) and,
in the fuzz profile, printed.

    HYPOTHESIS_PROFILE=fuzz .venv/bin/python -m pytest -q tests/fuzz -p no:cacheprovider
"""

from __future__ import annotations

import json
from pathlib import Path

import fuzz_support
import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[2]
_SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

settings.register_profile(
    "ci", max_examples=30, deadline=None, derandomize=True, database=None, suppress_health_check=_SLOW_IS_FINE
)
settings.register_profile(
    "fuzz", max_examples=10_000, deadline=None, database=None, suppress_health_check=_SLOW_IS_FINE
)


def pytest_collection_modifyitems(items):
    """The fuzz budget runs a test far longer than pytest-timeout's default allows."""
    if fuzz_support.PROFILE == "fuzz":
        for item in items:
            if Path(str(item.fspath)).parent == Path(__file__).parent:
                item.add_marker(pytest.mark.timeout(3 * 3600))


def pytest_runtest_setup(item):
    fuzz_support.start_test(item.nodeid)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and Path(str(item.fspath)).parent == Path(__file__).parent:
        fuzz_support.record_failure(item.nodeid)


def pytest_sessionfinish(session):
    if not fuzz_support.INPUTS and not fuzz_support.FAILED_TESTS:
        return
    import os

    target = os.environ.get("EMBERTA_FUZZ_SUMMARY")
    path = Path(target) if target else REPO / "build" / "fuzz-summary.json"
    document = json.loads(path.read_text(encoding="utf-8")) if target and path.is_file() else {}
    document["parsers"] = fuzz_support.summary()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


def pytest_terminal_summary(terminalreporter):
    if fuzz_support.PROFILE != "fuzz" or not fuzz_support.INPUTS:
        return
    result = fuzz_support.summary()
    terminalreporter.section("inputs tried per parser")
    for name, counts in result["parsers"].items():
        terminalreporter.write_line(f"{name:32} {counts['inputs']:>9} inputs  {counts['failures']} failures")
    for name, counts in result["families"].items():
        terminalreporter.write_line(f"family {name:25} {counts['inputs']:>9} inputs  {counts['failures']} failures")
