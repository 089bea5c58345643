# Two entry points: `make demo` (set up, then run the quickstart) and `make test` (set up, then the tests).
# Both create .venv when missing and are safe to run again.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test venv bench clean

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: venv
	HF_HUB_OFFLINE=1 $(BIN)/bort quickstart

test: venv
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

bench: venv
	HF_HUB_OFFLINE=1 $(BIN)/bort bench --out runs/bench

clean:
	rm -rf $(VENV) runs .pytest_cache
