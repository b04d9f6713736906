# The two commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The CPU build of torch is installed first so that no range pulls the CUDA wheels.
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: demo test bench lint-imports clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e '.[test,postgres]'
	touch $@

# the default study: every method family on real bakery sales (the ddop data shipped with orkit),
# backtested over time; writes runs/bakery-demo/report.md (`orkit run quickstart`: generated data)
demo: $(VENV)/.installed
	OMP_NUM_THREADS=1 $(BIN)/orkit run bakery-demo --workers 2

# one OpenMP thread per test worker: two workers on two cores, no oversubscription
test: $(VENV)/.installed
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -m "not slow" -n 2 -q $(PYTEST_ARGS)

lint-imports: $(VENV)/.installed
	$(BIN)/lint-imports

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_simulator.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
