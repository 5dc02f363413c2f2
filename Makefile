# make sweep: set up and run the demo study; make test: set up and run the tests.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# MLflow 3 sends usage telemetry at exit; without internet that costs ~10 s per command.
export MLFLOW_DISABLE_TELEMETRY ?= true

.PHONY: install sweep train test lint bench ui clean

# Optional extras beside dev, e.g. `make install EXTRAS=dev,tf` (CI: TensorFlow's checkpoint
# reader, to check genre's own against it).
EXTRAS ?= dev

install: $(STAMP)

# The versions, torch's included, are pinned in pyproject.toml alone. The pretrained musicnn
# weights come once into genre's cache (a 29 MB wheel from PyPI, checked by its sha256).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[$(EXTRAS)]"
	$(BIN)/python -m genre.pretrained fetch
	touch $(STAMP)

sweep: install
	$(BIN)/python -m genre.train -m sweeps=demo

train: install
	$(BIN)/python -m genre.train

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python -m genre.bench --quick

ui: install
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db

clean:
	rm -rf outputs multirun mlruns mlartifacts
