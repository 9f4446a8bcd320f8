# actlab: one venv, installed reproducibly from constraints.txt (torch 2.14.1 / torchvision 0.29.1).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PIP    := $(BIN)/python -m pip

.PHONY: install run test test-snapshot-update bench soak lint typecheck format clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt torch torchvision
	$(PIP) install -q -c constraints.txt -e '.[dev,serve,report,ray]'
	touch $(STAMP)

# The lab on the bundled MNIST sample: works offline.
run: install
	$(BIN)/actlab-tui

test: install
	$(BIN)/python -m pytest

test-snapshot-update: install
	$(BIN)/python -m pytest tests -k snapshot --snapshot-update

bench: install
	$(BIN)/python -m benchmarks

# issue 16's soak: reproducible numbers under load, kill -9'd sweep workers, dropped terminals
soak: install
	$(BIN)/python -m benchmarks.soak

# mypy reads the code as the packages it imports (actlab.engine, actlab.tui) through links
# named like them: the editable install maps those names with a path hook that mypy cannot
# follow, and `mypy engine tui` took every `actlab.` import as Any (no type crossed a module).
# The benchmarks are checked with them: they call the engine as a user's script would.
MYPY_ROOT := build/mypy

typecheck: install
	mkdir -p $(MYPY_ROOT)/actlab
	ln -sfn $(CURDIR)/engine $(MYPY_ROOT)/actlab/engine
	ln -sfn $(CURDIR)/tui $(MYPY_ROOT)/actlab/tui
	MYPYPATH=$(MYPY_ROOT):. $(BIN)/mypy -p actlab.engine -p actlab.tui -p benchmarks

lint: install typecheck
	$(BIN)/ruff check engine tui tests benchmarks
	$(BIN)/ruff format --check engine tui tests benchmarks
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff format engine tui tests benchmarks
	$(BIN)/ruff check --fix engine tui tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
