# The book's two commands, `make book` and `make test`, work on a fresh machine: each creates
# the virtual environment .venv and installs the project into it first (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings

.PHONY: book test lab

$(INSTALLED): pyproject.toml jupyterlab-overrides.json
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@mkdir -p $(LAB_SETTINGS) && cp jupyterlab-overrides.json $(LAB_SETTINGS)/overrides.json
	@touch $@

book: $(INSTALLED)
	$(BIN)/jupyter-book build --warningiserror --keep-going .
	@echo "The book ($${CNNBOOK_MODE:-quick} mode) is at $(CURDIR)/_build/html/index.html"

test: $(INSTALLED)
	$(BIN)/python -m pytest --nbval-lax tests chapters

lab: $(INSTALLED)
	$(BIN)/jupyter lab chapters
