# make sweep: set up and run the demo study; make test: set up and run the tests.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# MLflow 3 sends usage telemetry at exit; without internet that costs ~10 s per command.
export MLFLOW_DISABLE_TELEMETRY ?= true

.PHONY: install sweep train test lint bench ui clean

install: $(STAMP)

# torch comes first and pinned, so pip takes the release this project is tested with (a CUDA
# build that also runs on the CPU) instead of resolving it again with the rest.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "torch==2.14.1" "torchaudio==2.11.0"
	$(BIN)/pip install --quiet -e ".[dev]"
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
