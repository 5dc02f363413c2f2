# make sweep: set up and run the demo study; make test: set up and run the tests.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# MLflow 3 sends usage telemetry at exit; without internet that costs ~10 s per command.
export MLFLOW_DISABLE_TELEMETRY ?= true

.PHONY: install sweep train test test-fast lint bench ui lock clean

# Optional extras beside dev, e.g. `make install EXTRAS=dev,tf` (CI: TensorFlow's checkpoint
# reader, to check genre's own against it).
EXTRAS ?= dev

install: $(STAMP)

SWEEPER := plugins/hydra-genre-optuna-sweeper

# pyproject.toml says which versions genre works with; constraints.txt is the one set of them
# that was tested, so a release on PyPI cannot change what CI or a user installs (`make lock`
# refreshes it). genre's sweeper is a package of its own in $(SWEEPER), installed from there in
# the same pip command (genre depends on it by name). The pretrained musicnn weights come once
# into genre's cache (a 29 MB wheel from PyPI, checked by its sha256).
$(STAMP): pyproject.toml $(SWEEPER)/pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e $(SWEEPER) -e ".[$(EXTRAS)]"
	$(BIN)/python -m genre.pretrained fetch
	touch $(STAMP)

sweep: install
	$(BIN)/python -m genre.train -m sweeps=demo

train: install
	$(BIN)/python -m genre.train

test: install
	$(BIN)/python -m pytest -q

# Everything but the end-to-end runs marked slow: the loop to run while changing code.
test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python -m genre.bench --quick

ui: install
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db

# What a fresh install of genre with every extra resolves today, written to constraints.txt.
# Run it after changing a requirement in a pyproject.toml, then `make test` on a new .venv.
lock:
	rm -rf $(VENV)-lock && $(PYTHON) -m venv $(VENV)-lock
	$(VENV)-lock/bin/pip install --quiet --upgrade pip
	$(VENV)-lock/bin/pip install --quiet --dry-run --ignore-installed --report $(VENV)-lock/report.json \
		-e $(SWEEPER) -e ".[dev,tf,submitit,ray,bench,explore]"
	$(VENV)-lock/bin/python scripts/lock.py $(VENV)-lock/report.json > constraints.txt
	rm -rf $(VENV)-lock

clean:
	rm -rf outputs multirun mlruns mlartifacts
