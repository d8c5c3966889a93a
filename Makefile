# Two commands do all the set-up on a fresh machine:
#   make demo   create .venv, install, run the main job
#   make test   create .venv, install, run the test suite
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: demo test install bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch==2.13.0 is installed first and explicitly: it is the CPU build that installs offline here.
$(STAMP): $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c requirements.lock -e ".[dev,ray,postgres]"
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

bench: $(STAMP)
	$(BIN)/actlab bench speed --json benchmarks/speed.json

clean:
	rm -rf $(VENV) runs .pytest_cache
