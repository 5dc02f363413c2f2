# make sweep: set up and run the demo study; make test: set up and run the tests.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# MLflow 3 sends usage telemetry at exit; without internet that costs ~10 s per command.
export MLFLOW_DISABLE_TELEMETRY ?= true

.PHONY: install sweep train test test-fast lint bench ui clean

# Optional extras beside dev, e.g. `make install EXTRAS=dev,tf` (CI: TensorFlow's checkpoint
# reader, to check genre's own against it).
EXTRAS ?= dev

install: $(STAMP)

SWEEPER := plugins/hydra-genre-optuna-sweeper

# The versions, torch's included, are pinned in pyproject.toml alone. genre's sweeper is a
# package of its own in $(SWEEPER), installed from there in the same pip command (genre depends
# on it by name). The pretrained musicnn weights come once into genre's cache (a 29 MB wheel
# from PyPI, checked by its sha256).
$(STAMP): pyproject.toml $(SWEEPER)/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e $(SWEEPER) -e ".[$(EXTRAS)]"
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

clean:
	rm -rf outputs multirun mlruns mlartifacts
