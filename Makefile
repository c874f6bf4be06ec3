# Two commands do all the set-up: `make run` (execute the series) and `make test` (every test).
# Both create the virtual environment they need on first use: .venv with the default python3, or
# one per Python named on the command line (`make test PYTHON=python3.12` uses .venv-3.12).

SHELL := /bin/bash
PYTHON ?= python3
ifeq ($(origin PYTHON),file)
VENV := .venv
else
PYTHON_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
ifeq ($(PYTHON_VERSION),)
$(error PYTHON=$(PYTHON) does not run here; name a Python 3.11 or 3.12 interpreter (`make python312` finds an installed 3.12))
endif
VENV := .venv-$(PYTHON_VERSION)
endif
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
EXECUTED := build/executed

# Cache numba's compiled code (UMAP) inside the project so only the first run pays for it.
export NUMBA_CACHE_DIR := $(CURDIR)/.cache/numba
export PYTHONHASHSEED := 0
# pip shows errors only (-qq): its notes about this machine's extra wheel folders and setuptools'
# advice on editable installs are not for a newcomer; a failed install still stops with its error.
PIP := $(BIN)/python -m pip --disable-pip-version-check --no-input -qq

.PHONY: install run test lint unit nbval lab bench bench-gpu e2e e2e-browser python312 python312-env clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@echo "Creating $(VENV) with $(PYTHON) (first run only; torch is large, this takes a few minutes)"
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade "pip>=24"
	$(PIP) install -c constraints.txt -e ".[dev]"
	$(BIN)/python -c "import sys, helpers, torch, umap, nbval; print('environment ready: Python', sys.version.split()[0], 'torch', torch.__version__)"
	touch $(STAMP)

# One line per notebook. The kernel's connection is encrypted (CurveZMQ keys that jupyter_client
# hands to kernels whose spec supports them), which also stops ipykernel's warning about plain TCP.
run: $(STAMP)
	@mkdir -p $(EXECUTED)
	@for nb in notebooks/[0-9]*.ipynb; do \
		printf '%s ... ' "$$nb"; start=$$(date +%s); \
		$(BIN)/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=1800 \
			--KernelManager.transport_encryption=auto --log-level=WARN \
			--output-dir $(EXECUTED) "$$nb" || { echo "make run: $$nb failed, see above" >&2; exit 1; }; \
		echo "done in $$(( $$(date +%s) - start )) s"; \
	done
	@echo "Executed copies are in $(EXECUTED)/; the notebooks in notebooks/ are unchanged."

lint: $(STAMP)
	$(BIN)/ruff check helpers tests bench data notebooks docs
	$(BIN)/ruff format --check helpers tests bench data notebooks docs

unit: $(STAMP)
	$(BIN)/pytest tests --ignore=tests/e2e

nbval: $(STAMP)
	$(BIN)/pytest --nbval --nbval-sanitize-with notebooks/nbval_sanitize.cfg notebooks

test: lint $(STAMP)
	$(BIN)/pytest tests notebooks --ignore=tests/e2e --nbval --nbval-sanitize-with notebooks/nbval_sanitize.cfg

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks

# End to end, as readers use the series (not part of `make test`): notebook 05 in JupyterLab in
# headless Chromium, every notebook alone in a simulated Colab on Python 3.12 (.venv-3.12, shared
# with `make test PYTHON=python3.12`), and the README's quick start. Needs Debian's chromium and
# chromium-driver (.ci/run installs them).
E2E_CHROMIUM ?= /usr/bin/chromium
E2E_CHROMEDRIVER ?= /usr/bin/chromedriver
export E2E_CHROMIUM E2E_CHROMEDRIVER
e2e: e2e-browser $(STAMP) python312-env
	COLAB_PYTHON=$(CURDIR)/.venv-3.12/bin/python $(BIN)/pytest tests/e2e -m e2e -v -s

# Python 3.12 (Colab's): python3.12 on PATH, else the newest 3.12 under pyenv (whose python3.12
# shim answers only where pyenv has selected a 3.12). `make python312` prints the one found.
PYTHON312 ?= $(firstword $(shell for p in python3.12 $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.12*/bin/python3.12 2>/dev/null | sort -rV); do $$p -c 'import sys; print(sys.executable)' 2>/dev/null && break; done))
python312:
	@"$(PYTHON312)" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null || { \
		echo "No Python 3.12 found (PYTHON312=$(PYTHON312)): install one (pyenv install 3.12, or" \
			"your system's python3.12 package) or pass PYTHON312=/path/to/python3.12" >&2; exit 1; }
	@echo $(PYTHON312)

python312-env: python312
	@$(MAKE) -s --no-print-directory install PYTHON=$(PYTHON312)

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
