# The README's two commands: `make demo` and `make test`. Both create .venv if missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean chromium

# torch first, pinned: a looser spec (asked by us or a dependency) pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "torch==2.13.0"
	$(BIN)/python -m pip install -q -e ".[all,dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m pipelines.demo

# The report test renders pages in headless Chromium (Debian package; needs root or sudo).
chromium:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# -n auto: one pytest-xdist worker per core (tests/conftest.py splits torch threads between
# them); --dist loadfile keeps a file's tests on one worker, in order, sharing its fixtures.
# --durations lists the slowest tests, so a CI log says where its time went.
test: $(STAMP) chromium
	$(BIN)/python -m pytest -q -n auto --dist loadfile --durations=12

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python -m bench.generators

clean:
	rm -rf data models reports metrics .cache .pytest_cache
