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

clean:
	rm -rf $(VENV) var .pytest_cache
