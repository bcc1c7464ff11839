# heartcv: `make demo` and `make test` each set up .venv when it is missing or stale.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.heartcv-installed
PYTEST_ARGS ?=

.PHONY: venv demo test test-slow bench clean

$(STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/heartcv demo

test: $(STAMP)
	$(PY) -m pytest -m "not slow" -q $(PYTEST_ARGS)

test-slow: $(STAMP)
	@# exit 5 = nothing collected (no slow tests yet) is not a failure
	$(PY) -m pytest -m slow -q $(PYTEST_ARGS) || test $$? -eq 5

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf build *.egg-info .pytest_cache runs
