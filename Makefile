# The course's two commands: `make book` builds the site, `make test` runs every test.
# Both create the pinned virtual environment in .venv first when it is missing or stale.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export TF_CPP_MIN_LOG_LEVEL := 3
export PYTHONHASHSEED := 0

.PHONY: install book test check browser lint sync freeze clean

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

install: $(VENV)/.installed

# The execution cache is keyed on each chapter's own code; when coursekit or the pinned
# environment changes, every chapter must run again, so the cache is dropped.
CODE_HASH = $(shell cat pyproject.toml requirements.txt $$(find coursekit -name '*.py' | sort) \
	| sha256sum | cut -c1-16)

## Build the site into _build/html, executing every chapter (cached per chapter).
book: install
	@if [ "$$(cat _build/.code-hash 2>/dev/null)" != "$(CODE_HASH)" ]; then \
	  echo "coursekit or the environment changed: executing every chapter again"; \
	  rm -rf _build/.jupyter_cache _build/.doctrees _build/html _build/jupyter_execute; fi
	$(BIN)/jupyter-book build . --builder html -n -W --keep-going
	@echo "$(CODE_HASH)" > _build/.code-hash

## Every test: lint; unit tests and every chapter executed once by nbval (which stores the
## outputs in the book's execution cache); the site built from those outputs with warnings as
## errors; then the pages tested in headless Chromium (screenshots in _build/screenshots).
test: install browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest tests notebooks --ignore=tests/browser -p chapter_cache --nbval-lax \
	  --nbval-cell-timeout=900 -p no:cacheprovider -n 2 --dist loadfile --durations=15
	rm -rf _build/html _build/.doctrees
	$(BIN)/jupyter-book build . --builder html -n -W --keep-going
	@echo "$(CODE_HASH)" > _build/.code-hash
	$(BIN)/python -m pytest tests/browser -p no:cacheprovider

## While working: lint and coursekit's unit tests, without the chapters (about two minutes).
check: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest tests --ignore=tests/browser -m "not slow" -p no:cacheprovider -n 2

## Headless Chromium for the browser tests (Debian packages), installed when missing and
## when this machine lets us (root, or sudo without a password); otherwise say what to do.
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=""; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=sudo; \
	else echo "The browser tests need Chromium and chromedriver at /usr/bin/chromium and"; \
	  echo "/usr/bin/chromedriver, and this machine cannot install them without root."; \
	  echo "Install Debian's chromium and chromium-driver packages (ask an administrator), or"; \
	  echo "run 'make check' for lint and the unit tests without the browser."; exit 1; fi; \
	echo "installing chromium and chromium-driver for the browser tests"; \
	command -v apt-get >/dev/null 2>&1 || { echo "no apt-get here: install Chromium and" \
	  "chromedriver at /usr/bin by hand, or run 'make check'"; exit 1; }; \
	$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver

## Re-pair every chapter: write the Colab .ipynb (no outputs) from its .md source.
sync: install
	$(BIN)/jupytext --update --to ipynb notebooks/*.md

freeze: install
	{ head -n 2 requirements.txt; $(BIN)/python -m pip freeze --exclude-editable \
	  | grep -v '^coursekit'; } > requirements.new && mv requirements.new requirements.txt

clean:
	rm -rf _build
