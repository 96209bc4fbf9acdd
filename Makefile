# The course's entry points. Every target sets up what it needs first (a virtual environment in .venv).
#   make demo       - set up (bubblewrap too, as root), generate the student notebooks, grade a demo class,
#                     print the grade table
#   make test       - set up, lint (ruff) and run the whole test suite (what CI runs)
#   make test-fast  - lint and run the tests not marked slow (no class autograde, training or nbgrader runs),
#                     on every core (pytest-xdist)
#   make lab        - JupyterLab on the course (served from here, so nbgrader's Validate button works)
#   make book       - the self-study book (Sphinx + MyST-NB) in book/_build/html, executed and cached
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export PYTHONDONTWRITEBYTECODE := 1
# MathJax, served from disk by the book and inlined into feedback pages (no CDN): one file of the
# pinned npm release, checked against the tarball's SHA-256; the stamp names the version, so a new
# pin fetches again.
MATHJAX_VERSION := 3.2.2
MATHJAX_SHA256 := 1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09
MATHJAX := $(VENV)/share/mathjax/mathjax-$(MATHJAX_VERSION).installed

.PHONY: setup sandbox demo test test-fast lint generate figures lab book clean

setup: $(VENV)/.installed $(MATHJAX)

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

$(MATHJAX): | $(VENV)/.installed
	rm -rf $(VENV)/share/mathjax.tmp && mkdir -p $(VENV)/share/mathjax.tmp
	cd $(VENV)/share/mathjax.tmp && npm pack --silent mathjax@$(MATHJAX_VERSION) >/dev/null
	echo "$(MATHJAX_SHA256)  $(VENV)/share/mathjax.tmp/mathjax-$(MATHJAX_VERSION).tgz" | sha256sum --check --quiet
	tar -xzf $(VENV)/share/mathjax.tmp/mathjax-$(MATHJAX_VERSION).tgz -C $(VENV)/share/mathjax.tmp package/es5/tex-svg.js package/LICENSE
	rm -rf $(VENV)/share/mathjax && mkdir -p $(VENV)/share/mathjax
	mv $(VENV)/share/mathjax.tmp/package/LICENSE $(VENV)/share/mathjax/LICENSE
	mv $(VENV)/share/mathjax.tmp/package/es5/tex-svg.js $(VENV)/share/mathjax/tex-svg.js
	rm -rf $(VENV)/share/mathjax.tmp
	touch $@

# The grading sandbox needs bubblewrap (bwrap). As root with apt it is installed here; otherwise this
# says how, and grading goes on with reduced isolation (the summary warns).
sandbox:
	@command -v bwrap >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap; \
	  else \
	    echo "bubblewrap (bwrap) is not installed: student code would be graded with reduced isolation."; \
	    echo "Install it as root (apt-get install bubblewrap, or dnf install bubblewrap) and grade as root."; \
	  fi; }

demo: setup sandbox
	$(BIN)/python -m grader demo

lint: setup
	$(BIN)/ruff check .

test: lint sandbox
	$(BIN)/python -m pytest

test-fast: lint
	$(BIN)/python -m pytest -m "not slow" -n auto

generate: setup
	$(BIN)/python -m grader generate

figures: setup
	$(BIN)/python assets/make_figures.py

# The server's root is the course directory (nbgrader's Validate needs it under the root); the
# browser opens on the first notebook.
lab: setup
	$(BIN)/jupyter lab --ServerApp.root_dir=$(CURDIR) --LabApp.default_url=/lab/tree/notebooks/gan/01_model_inputs.ipynb

book: setup
	$(BIN)/python -m grader book

clean:
	rm -rf $(VENV) .cache demo gradebook.db book/_generated book/_build
