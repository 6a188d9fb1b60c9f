# Two commands do all set-up on a fresh machine:  `make serve` (chat UI)  and  `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# llama-cpp-python compiles from source (~10 min on 2 cores, once; pip caches the wheel).
export CMAKE_ARGS ?= -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_CURL=OFF
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
PYTEST_ARGS ?=

.PHONY: setup serve test browser bench eval clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install torch==2.13.0   # the CPU build; an unpinned torch pulls GBs of CUDA packages
	$(PY) -m pip install -e ".[test]"
	touch $@

setup: $(VENV)/.installed

browser:  ## Debian's Chromium for the browser tests (root; no browser download)
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

serve: setup
	$(VENV)/bin/rag serve --config seeds/corpus.toml

test: setup browser
	$(PY) -m pytest -q -rs $(PYTEST_ARGS)

eval: setup
	$(VENV)/bin/rag eval evals/questions.jsonl --out evals/report

bench: setup
	$(PY) -m pip install -q -e ".[bench]"
	$(PY) evals/bench.py

clean:
	rm -rf $(VENV) index/g-* index/CURRENT
