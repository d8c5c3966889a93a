# Two commands do all the set-up on a fresh machine:
#   make demo   create .venv, install, run the main job
#   make test   create .venv, install, run the test suite
# and: make lint (ruff + mypy), make docs (the mkdocs site into site/), make bench.
# Library users install with pip instead: `pip install .` (the zoo and the expression language) or
# `pip install '.[all]'`; see docs/install.md.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: demo test install bench lint docs clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch==2.13.0 is installed first and explicitly: it is the CPU build that installs offline here.
$(STAMP): $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c requirements.lock -e ".[all,dev,docs]"
	@# The C++ autograd node for small activations (~30 s, once per machine); without a compiler actlab still
	@# works, through the Python autograd.Function.
	$(BIN)/python -c "import actlab.kernels as K; K.build_native(); print('actlab native node:', K.native_status())" \
	    || echo "actlab: native autograd node not built; the Python path serves"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/actlab search

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

# ruff (E, F, W, B; line length 120) and mypy (non-strict), both pinned by the [dev] extra and configured in
# pyproject.toml
lint: $(STAMP)
	$(BIN)/ruff check actlab tests
	$(BIN)/mypy actlab

# The docs site (mkdocs + mkdocstrings) into site/; --strict turns every warning (a broken link, a missing API
# object) into an error
docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir site

bench: $(STAMP)
	$(BIN)/actlab bench speed --json benchmarks/speed.json

clean:
	rm -rf $(VENV) runs .pytest_cache site
