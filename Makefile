# The book's two commands, `make book` and `make test`, work on a fresh machine: each creates
# the virtual environment .venv and installs the project into it first (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings

.PHONY: book book-full test lab lab-instructor reproduce bench assignments book-instructor \
	publish

$(INSTALLED): pyproject.toml jupyterlab-overrides.json
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@mkdir -p $(LAB_SETTINGS) && cp jupyterlab-overrides.json $(LAB_SETTINGS)/overrides.json
	@touch $@

# Each chapter page links its exercise notebook, which `cnnbook assign --students-only` writes
# first (seconds: it runs no chapter) to _build/assignments/student/.
book: $(INSTALLED)
	$(BIN)/cnnbook assign --students-only
	$(BIN)/jupyter-book build --warningiserror --keep-going .
	@echo "The book ($${CNNBOOK_MODE:-quick} mode) is at $(CURDIR)/_build/html/index.html"

# The full-mode book, the online edition, in its own folder: it trains through the model cache,
# so after `make reproduce` it reuses every model the reproduction trained (see README.md).
book-full: $(INSTALLED)
	$(BIN)/cnnbook assign --students-only
	CNNBOOK_MODE=full $(BIN)/jupyter-book build --warningiserror --keep-going \
		--path-output _build/full .
	@echo "The full-mode book is at $(CURDIR)/_build/full/_build/html/index.html"

test: $(INSTALLED)
	$(BIN)/python -m pytest --nbval-lax --durations=25 chapters tests

# Students' notebooks only: the chapters hold the solutions and hidden checks.
lab: assignments
	$(BIN)/jupyter lab _build/assignments/student

lab-instructor: $(INSTALLED)
	$(BIN)/jupyter lab chapters

# The students' exercise notebooks (_build/assignments/student/) and the grading bundles
# (_build/assignments/grading/), generated from the chapters; see README.md, "Exercises".
assignments: $(INSTALLED)
	$(BIN)/cnnbook assign

# Ready to push, nothing pushed: the students' site (_build/publish/site/) and the student
# materials (_build/publish/student-materials/: notebooks, checks, the environment for Binder),
# from the students' book built after the full assign step; see README.md, "Publishing".
publish: assignments
	$(BIN)/jupyter-book build --warningiserror --keep-going .
	$(BIN)/cnnbook publish

# The book with every exercise's solution and checks, for instructors, in its own folder.
book-instructor: $(INSTALLED)
	CNNBOOK_SOLUTIONS=1 $(BIN)/jupyter-book build --warningiserror --keep-going \
		--path-output _build/instructor .
	@echo "The instructors' book is at $(CURDIR)/_build/instructor/_build/html/index.html"

# Train the notes' models in full mode and write data/reproduction.{json,md} (resumable;
# MODEL=cnn1 trains one model; `cnnbook reproduce --list` lists them).
reproduce: $(INSTALLED)
	$(BIN)/cnnbook reproduce $(if $(MODEL),--model $(MODEL))

# Time one epoch of CNNmodel1 and CNNmodel2: the book's training, plain Keras, plain PyTorch.
bench: $(INSTALLED)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/cnnbook bench
