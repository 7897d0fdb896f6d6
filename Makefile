# Two commands for a newcomer: `make run` and `make test`. Both create .venv when it is
# missing and install the pinned dependencies into it.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install check examples bench eval train clean

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m screening serve --load-examples

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 tests

examples: $(STAMP)
	$(BIN)/python -m screening examples

check: $(STAMP)
	$(BIN)/python -m screening check $(TEXT)

eval: $(STAMP)
	$(BIN)/python benchmarks/rules_accuracy.py

# Batch-scan throughput (1 core, all cores, underthesea as a yardstick) and peak memory on the
# real postings replicated to N (default 100,000; N=1000000 measures memory only).
N ?= 100000
bench: $(STAMP)
	$(BIN)/python benchmarks/scan_bench.py --n $(N) $(if $(filter-out 100000,$(N)),--memory-only,)

clean:
	rm -rf $(VENV) var .pytest_cache
