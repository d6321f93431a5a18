# Two commands: `make book` builds the HTML book, `make test` runs every test.
# Both create (or refresh) .venv from pyproject.toml, so a fresh machine needs only Python and make.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PROFILE ?= $(WISETUT_PROFILE)

.PHONY: venv test test-unit test-book book reproduce bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[book,test]'
	touch $(STAMP)

venv: $(STAMP)

test: test-unit test-book

test-unit: $(STAMP)
	$(PY) -m pytest tests

# nbval re-runs every chapter in the quick profile (book/conftest.py) and compares the outputs
test-book: $(STAMP)
	$(PY) -m pytest --nbval --nbval-current-env --nbval-cell-timeout=1200 book/

book: $(STAMP)
	$(VENV)/bin/jupyter-book build -W -n --keep-going .
	@echo "The book is at _build/html/index.html"

# Re-execute every chapter in place (outputs, book/figures, book/results). PROFILE=paper make reproduce;
# CHAPTERS=book/04_sine_waves.ipynb make reproduce for one chapter. Finished runs load from book/checkpoints/.
reproduce: $(STAMP)
	WISETUT_PROFILE=$(PROFILE) $(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
	  --ExecutePreprocessor.timeout=-1 --ExecutePreprocessor.kernel_name=python3 $(or $(CHAPTERS),book/[0-9]*.ipynb)

# Speed, as ratios against a baseline in the same run (benchmarks/README.md). pythae: pip install -e '.[bench]'
bench: $(STAMP)
	$(PY) benchmarks/wise_kl.py
	$(PY) benchmarks/train_speed.py

clean:
	rm -rf _build
