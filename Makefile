# emberta: `make run` (the main job) and `make test` work from a fresh clone with nothing else done first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EMBERTA_DATA ?= $(abspath ../shared/datasets)
export EMBERTA_DATA
BUILD := build

.PHONY: install run test test-slow fuzz lint format bench clean

# The CPU build of torch lies on this machine's disk; installing it first keeps pip from pulling a CUDA build
# to satisfy the package's own torch range.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# The main job: the quick evaluation suite (one task per type) with the default model, scores beside MTEB's.
run: install
	$(VENV)/bin/emberta eval --model default --suite quick --output-dir results

# Two workers, each taking whole test files (module fixtures are built once): under 8 minutes on two cores
# instead of 10 serially. `pytest -q` alone runs them serially.
test: install
	$(PY) -m pytest -q -n 2 --dist loadfile

# The long real-data runs that `make test` skips (SciFact reproduced and searched through an index, and Tatoeba's
# twelve language pairs: about eight minutes on two cores).
test-slow: install
	$(PY) -m pytest -q --run-slow -m slow

# Property-based and schema-driven tests with the large budgets (at least 10,000 inputs per parser family and
# 5,000 HTTP requests); counts in build/fuzz-summary.json. docs/reliability.md has the figures.
fuzz: install
	mkdir -p $(BUILD)
	HYPOTHESIS_PROFILE=fuzz EMBERTA_FUZZ_SUMMARY=$(abspath $(BUILD))/fuzz-summary.json \
		$(PY) -m pytest -q -p no:cacheprovider tests/fuzz tests/test_serve_schema.py

lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

bench: install
	$(PY) -m pip install --quiet -e '.[dev,bench,search-bench]'
	$(PY) benchmarks/encode.py
	$(PY) benchmarks/backend_quality.py
	$(PY) benchmarks/mteb_crosscheck.py
	$(PY) benchmarks/eval_speed.py
	$(PY) benchmarks/search.py
	$(PY) benchmarks/batch_search.py
	$(PY) benchmarks/serve.py
	mkdir -p $(BUILD)
	$(PY) benchmarks/crash.py --kills 1000 --json $(BUILD)/crash.json
	$(PY) benchmarks/concurrency.py --seconds 60 --json $(BUILD)/concurrency.json

clean:
	rm -rf $(BUILD) .pytest_cache .ruff_cache
