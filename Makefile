# heartcv: `make demo` and `make test` each set up .venv when it is missing or stale.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.heartcv-installed
PYTEST_ARGS ?=

JAX_VENV ?= .venv-jax
JAX_PY := $(JAX_VENV)/bin/python
JAX_STAMP := $(JAX_VENV)/.heartcv-installed
# the `jax` and `test` extras of setup.cfg, each requirement quoted for the shell
JAX_REQS = $(shell $(PYTHON) -c "import configparser; c = configparser.ConfigParser(); \
	c.read('setup.cfg'); e = c['options.extras_require']; \
	print(' '.join(repr(r) for r in (e['jax'] + e['test']).split()))")

.PHONY: venv demo test test-slow test-jax bench clean

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

# Keras on JAX with no TensorFlow installed: heartcv --no-deps + the `jax` extra's list.
$(JAX_STAMP): setup.cfg pyproject.toml
	@test -x $(JAX_PY) || $(PYTHON) -m venv $(JAX_VENV)
	$(JAX_PY) -m pip install -q --upgrade pip
	$(JAX_PY) -m pip install -q $(JAX_REQS)
	$(JAX_PY) -m pip install -q --no-deps -e .
	@touch $(JAX_STAMP)

test-jax: $(JAX_STAMP)
	KERAS_BACKEND=jax $(JAX_PY) -m pytest -q tests/jax $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf build *.egg-info .pytest_cache runs
