# Two commands do all the set-up: `make run` (execute the series) and `make test` (every test).
# Both create the virtual environment they need in .venv on first use.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
EXECUTED := build/executed

# Cache numba's compiled code (UMAP) inside the project so only the first run pays for it.
export NUMBA_CACHE_DIR := $(CURDIR)/.cache/numba
export PYTHONHASHSEED := 0
# The offline default never needs the network; keep pip quiet about the local wheel folders.
PIP := $(BIN)/python -m pip --disable-pip-version-check --no-input

.PHONY: install run test lint unit nbval lab bench bench-gpu e2e e2e-browser clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@echo "Creating $(VENV) (first run only; torch is large, this takes a few minutes)"
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade "pip>=24" 2>&1 | grep -v "^WARNING: Location" || true
	$(PIP) install --quiet -c constraints.txt -e ".[dev]" 2>&1 | grep -v "^WARNING: Location"; test "$${PIPESTATUS[0]}" -eq 0
	$(BIN)/python -c "import helpers, torch, umap, nbval; print('environment ready: torch', torch.__version__)"
	touch $(STAMP)

run: $(STAMP)
	@mkdir -p $(EXECUTED)
	@for nb in notebooks/[0-9]*.ipynb; do \
		echo "== $$nb"; start=$$(date +%s); \
		$(BIN)/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=1800 \
			--output-dir $(EXECUTED) "$$nb" --log-level=WARN || exit 1; \
		echo "   done in $$(( $$(date +%s) - start )) s -> $(EXECUTED)/$$(basename $$nb)"; \
	done

lint: $(STAMP)
	$(BIN)/ruff check helpers tests bench data notebooks
	$(BIN)/ruff format --check helpers tests bench data notebooks

unit: $(STAMP)
	$(BIN)/pytest tests --ignore=tests/e2e

nbval: $(STAMP)
	$(BIN)/pytest --nbval --nbval-sanitize-with notebooks/nbval_sanitize.cfg notebooks

test: lint $(STAMP)
	$(BIN)/pytest tests notebooks --ignore=tests/e2e --nbval --nbval-sanitize-with notebooks/nbval_sanitize.cfg

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks

# End to end, as readers use the series: notebook 05 in JupyterLab in headless Chromium, and the
# README's two commands on a clean clone (measured on a busy 2-core machine: 4-8 + 38 minutes).
# Not part of `make test`. Needs Debian's chromium and chromium-driver (.ci/run installs them).
E2E_CHROMIUM ?= /usr/bin/chromium
E2E_CHROMEDRIVER ?= /usr/bin/chromedriver
export E2E_CHROMIUM E2E_CHROMEDRIVER
e2e: e2e-browser $(STAMP)
	$(BIN)/pytest tests/e2e -m e2e -v -s

e2e-browser:
	@for program in "$(E2E_CHROMIUM)" "$(E2E_CHROMEDRIVER)"; do test -x "$$program" || { \
		echo "make e2e: $$program is missing. Install Chromium and its driver:" \
			"apt-get install -y chromium chromium-driver (as root; .ci/run does this)" >&2; exit 1; }; \
	done

# BENCH_ARGS passes options, e.g. make bench BENCH_ARGS="--threads 1" on shared cores (bench/README.md).
bench: $(STAMP)
	$(BIN)/python bench/bench_pipeline.py $(BENCH_ARGS)

# On a machine with a CUDA GPU and torch (no project environment needed): python bench/gpu.py
bench-gpu:
	$(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON)) bench/gpu.py $(BENCH_ARGS)

clean:
	rm -rf $(EXECUTED) notebooks/checkpoints .pytest_cache

# The series as a static website in build/site/ (entry: index.html), built offline with Sphinx
# from the committed notebooks, which are not executed again (docs/README.md says how to view it).
# `make site SITE_NOTEBOOKS=build/executed` shows the copies `make run` executed instead.
SITE_NOTEBOOKS ?= notebooks
.PHONY: site
site: $(STAMP)
	$(BIN)/python docs/build.py --notebooks $(SITE_NOTEBOOKS)
