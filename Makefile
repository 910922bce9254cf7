# The course's two commands: `make book` builds the site, `make test` runs every test.
# Both create the pinned virtual environment in .venv first when it is missing or stale.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export TF_CPP_MIN_LOG_LEVEL := 3
export PYTHONHASHSEED := 0

.PHONY: install book test chapters quality site check colab browser tcmalloc lint sync freeze clean \
	assignments

# uv installs the pinned wheels in seconds where pip takes minutes; it is installed into
# each environment by pip first, at a pinned version. Every test process, chapter kernel and
# subprocess imports TensorFlow, and without compiled files each import would parse it again:
# Python writes them as it imports (PYTHONDONTWRITEBYTECODE, which would stop it, is cleared
# here), and each environment imports what every process needs once when it is built, so that
# the processes that start together find it compiled. That compiles only what is imported: uv's
# --compile-bytecode compiled every installed file (both environments were ready in 38 s of a
# fresh clone's `make test` with it, in 26 s without it).
export PYTHONDONTWRITEBYTECODE :=
UV_VERSION := 0.13.9
UV = $(1)/bin/python -m pip install --quiet uv==$(UV_VERSION) && \
	$(1)/bin/uv pip install --quiet --python $(1)/bin/python
# what every test process, chapter kernel and subprocess imports, in both environments (TFRS's
# Keras 2 beside Keras 3, as the course's processes load them)
WARM_IMPORTS := tensorflow, tf_keras, tensorflow_recommenders, keras, keras_rs, pandas, \
	scipy.sparse, sklearn, matplotlib.pyplot, faiss, surprise, myfm, coursekit.models, pytest, \
	xdist, nbval, ipykernel, ipykernel.kernelapp, jupyter_client, nbformat, hypothesis

# TensorFlow on the CPU spends much of a small model's training step allocating memory: with
# Google's tcmalloc preloaded the course's models train about a tenth faster here, to the same
# figures (matrix factorization on ml-100k: 12.2 s instead of 15.6 s, test RMSE equal to the
# sixth decimal). Debian's libtcmalloc-minimal4, which `make test` installs where it can;
# without it, everything runs the same, only slower. Chromium is not given it.
TCMALLOC_LIB := /usr/lib/*-linux-gnu/libtcmalloc_minimal.so.4
PRELOAD = LD_PRELOAD="$$(ls $(TCMALLOC_LIB) 2>/dev/null | head -n 1)" \
	TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD=1000000000000

# Who may install Debian packages here: SUDO="" as root, "sudo" with sudo without a password,
# "none" otherwise (the browser and tcmalloc targets).
FIND_SUDO = if [ "$$(id -u)" = 0 ]; then SUDO=""; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=sudo; \
	else SUDO=none; fi

# A new virtual environment $(3) on the Python $(1) (version $(2)); where the machine has no
# such Python, uv (installed into a bootstrap environment of any python3) fetches one, and
# where neither can, one sentence says what to install.
NEW_VENV = if $(1) -c "" 2>/dev/null; then $(1) -m venv $(3); \
	else echo "$(1) was not found: fetching a Python $(2) with uv"; \
	  rm -rf .venv-bootstrap; { python3 -m venv .venv-bootstrap && \
	  .venv-bootstrap/bin/python -m pip install --quiet uv==$(UV_VERSION) && \
	  .venv-bootstrap/bin/uv venv --quiet --seed --python $(2) $(3); } >/dev/null 2>&1 || { \
	  echo "The course's environment needs Python $(2), which neither this machine nor uv" \
	    "could provide: install Python $(2) (python.org, your package manager, pyenv, or" \
	    "'uv python install $(2)'), then run make again, or name it: make PYTHON=/path/to/python$(2)"; \
	  exit 1; }; fi

$(VENV)/.installed: requirements.txt pyproject.toml
	rm -rf $(VENV)
	@$(call NEW_VENV,$(PYTHON),3.11,$(VENV))
	$(call UV,$(VENV)) -r requirements.txt
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	TF_USE_LEGACY_KERAS=1 $(BIN)/python -c "import $(WARM_IMPORTS), otter.run, jupytext, \
	  selenium.webdriver, jupyter_book.cli.main, myst_nb, sphinx_book_theme, sphinxcontrib.bibtex"
	touch $@

install: $(VENV)/.installed

# The execution cache is keyed on each chapter's own code; when coursekit or the pinned
# environment changes, every chapter must run again, so the cache is dropped.
# The benchmark results and the answers kept beside them count too: chapters read them.
CODE_HASH = $(shell cat pyproject.toml requirements.txt coursekit/benchmark_results.json \
	$$(ls coursekit/benchmark_units.npz 2>/dev/null) \
	$$(find coursekit -name '*.py' | sort) | sha256sum | cut -c1-16)

## Build the site into _build/html, executing every chapter (cached per chapter).
book: install
	@if [ "$$(cat _build/.code-hash 2>/dev/null)" != "$(CODE_HASH)" ]; then \
	  echo "coursekit or the environment changed: executing every chapter again"; \
	  rm -rf _build/.jupyter_cache _build/.doctrees _build/html _build/jupyter_execute; fi
	$(PRELOAD) $(BIN)/jupyter-book build . --builder html -n -W --keep-going
	@echo "$(CODE_HASH)" > _build/.code-hash

## Every test: lint; unit tests and every chapter executed once by nbval (which stores the
## outputs in the book's execution cache, and each chapter's figures in _build/figures); the
## quality targets checked on those figures; the site built from the chapters' outputs with
## warnings as errors; its pages tested in headless Chromium (screenshots in
## _build/screenshots); and the unit tests and a chapter again in Colab's versions.
# The test workers each run TensorFlow and the BLAS behind numpy on one thread, which spares
# them fighting over the cores (two chapters side by side took 148 s instead of 167 s so, with
# a third less system time). Three workers share the machine's two cores in the chapters' run:
# each worker waits on its chapter's kernel and each kernel on its worker, so two left the
# cores idle about a tenth of the time (the chapters' run took 761 s with two workers and
# 724 s with three, the same tests on the same machine).
CHAPTER_WORKERS ?= 3
test chapters check: export TF_NUM_INTRAOP_THREADS := 1
test chapters check: export TF_NUM_INTEROP_THREADS := 1
test chapters check: export OMP_NUM_THREADS := 1
test chapters check: export OPENBLAS_NUM_THREADS := 1
test chapters: export COURSEKIT_FIGURES := $(CURDIR)/_build/figures
test:
	@# the two environments and tcmalloc are installed side by side (mostly downloading,
	@# reading and writing files; building Colab's while the chapters run slowed them more
	@# than it saved)
	@$(MAKE) --no-print-directory browser BROWSER_CHECK_ONLY=1
	$(MAKE) --no-print-directory -j3 --output-sync=target install $(COLAB_COURSEKIT) tcmalloc
	$(BIN)/ruff check .
	@# every chapter runs again: no figure, output or page may come from an earlier run
	rm -rf _build/figures _build/.jupyter_cache
	@# Chromium, which only the site's tests need, installs (where it is missing) while the
	@# chapters run: on a machine without it, that spares the chapters waiting for it
	@mkdir -p _build; { $(MAKE) --no-print-directory browser > _build/browser.log 2>&1; \
	  echo $$? > _build/browser.status; } & \
	$(MAKE) --no-print-directory chapters; chapters=$$?; wait; cat _build/browser.log; \
	[ $$chapters = 0 ] && [ "$$(cat _build/browser.status)" = 0 ]
	@# then, side by side: Colab's environment; the quality targets, then the site
	$(MAKE) --no-print-directory -j2 --output-sync=target colab quality site

# coursekit's tests and every chapter, executed once (part of `make test`).
chapters: install
	$(PRELOAD) $(BIN)/python -m pytest tests notebooks --ignore=tests/browser --ignore=tests/quality \
	  -p chapter_cache --nbval-lax --nbval-cell-timeout=900 -p no:cacheprovider -n $(CHAPTER_WORKERS) \
	  --dist loadfile --no-loadscope-reorder --durations=40

## The quality targets, checked on the figures the chapters recorded (part of `make test`).
quality: install
	$(BIN)/python -m pytest tests/quality -p no:cacheprovider

## The site from the chapters' stored outputs, with warnings as errors, and its pages tested in
## headless Chromium (part of `make test`, after the chapters have run).
site: install browser
	rm -rf _build/html _build/.doctrees
	$(BIN)/jupyter-book build . --builder html -n -W --keep-going
	@echo "$(CODE_HASH)" > _build/.code-hash
	$(BIN)/python -m pytest tests/browser -p no:cacheprovider

## Colab's runtime: Python 3.13, TensorFlow 2.20, Keras 3.13, tf-keras 2.20, numpy 2.1,
## pandas 2.2; coursekit installed through its declared dependencies, as a chapter's first cell
## does, which must not replace any of them. Then the unit tests and chapter 1 run there.
# A Python 3.13 from PATH or pyenv; without one, the step says so and uses $(PYTHON).
COLAB_PYTHON ?= $(firstword $(foreach p,python3.13 $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13),$(shell $(p) -c "print('$(p)')" 2>/dev/null)))
# looked for once, not at every use of the variable
COLAB_PYTHON := $(COLAB_PYTHON)
COLAB_VENV := .venv-colab
# the stamp names the Python, so that a machine that gains or loses a 3.13 builds it again
COLAB_STAMP := $(COLAB_VENV)/.installed-$(notdir $(or $(COLAB_PYTHON),$(PYTHON)))
$(COLAB_STAMP): .ci/colab-requirements.txt
	rm -rf $(COLAB_VENV)
	@if [ -n "$(COLAB_PYTHON)" ]; then \
	  echo "Colab's environment on $$($(COLAB_PYTHON) --version), as Colab runs it"; \
	  $(COLAB_PYTHON) -m venv $(COLAB_VENV); \
	else echo "No Python 3.13 on this machine: Colab runs 3.13, but its environment is built" \
	  "on $$($(PYTHON) --version) instead"; $(call NEW_VENV,$(PYTHON),3.11,$(COLAB_VENV)); fi
	$(call UV,$(COLAB_VENV)) -r .ci/colab-requirements.txt
	$(COLAB_VENV)/bin/python -m pip freeze > $(COLAB_VENV)/colab-versions.txt
	touch $@

# What depends on the packages' versions runs again in Colab's environment: every model of the
# registry through the contract checks (fit, predict, recommend, save and load under Colab's
# TensorFlow, Keras, tf-keras, numpy and pandas), TFRS's Keras 2 switch and keras-rs's layers,
# the data's loading, validation, splits and pipelines (pandas and numpy), the metrics and
# intervals, and chapter 1. The models' own unit tests (their mathematics, checked once in the
# pinned environment) and the tests of the repository's text do not run again here.
# -P: the repository's folder is not put on sys.path, so the tests import the installed
# coursekit. --dist loadfile (here and in `check`): the tests of a file share one worker, so the
# contract test trains the registry's models once, not once per worker.
# Longest first, so that the two workers finish together; chapter 1 runs beside them.
COLAB_TESTS := $(addprefix tests/,test_contract_keras.py test_tfrs.py test_contract.py \
	test_retrieval_keras3.py test_serving.py test_loading.py test_validation.py \
	test_student_tables.py test_splits.py test_encoding.py test_sparse_and_pipelines.py \
	test_synthetic.py test_topn_metrics.py test_intervals.py) \
	notebooks/01_movielens_data.ipynb
# coursekit installed there as a chapter's first cell installs it (pip, through its declared
# dependencies), again whenever its code or its declared dependencies change; `make test` does
# it with the environments, before the chapters run.
COLAB_COURSEKIT := $(COLAB_VENV)/.coursekit-installed
$(COLAB_COURSEKIT): $(COLAB_STAMP) pyproject.toml $(shell find coursekit -type f -not -name '*.pyc')
	$(COLAB_VENV)/bin/python -m pip uninstall --quiet --yes coursekit 2>/dev/null || true
	$(COLAB_VENV)/bin/python -m pip install --quiet .
	TF_USE_LEGACY_KERAS=1 $(COLAB_VENV)/bin/python -c "import $(WARM_IMPORTS)"
	$(COLAB_VENV)/bin/python .ci/colab_versions.py $(COLAB_VENV)/colab-versions.txt
	touch $@

colab: $(COLAB_COURSEKIT)
	$(PRELOAD) $(COLAB_VENV)/bin/python -P -m pytest $(COLAB_TESTS) -m "not slow" -p no:cacheprovider -q \
	  --nbval-lax -n 2 --dist loadfile --no-loadscope-reorder

## While working: lint and coursekit's unit tests, without the chapters (about a minute and a half).
check: install
	$(BIN)/ruff check .
	$(PRELOAD) $(BIN)/python -m pytest tests --ignore=tests/browser --ignore=tests/quality -m "not slow" \
	  -p no:cacheprovider -n 2 --dist loadfile

## Headless Chromium for the browser tests (Debian packages), installed when missing and
## when this machine lets us (root, or sudo without a password); otherwise say what to do.
## BROWSER_CHECK_ONLY=1 only says whether it is there or can be installed (`make test` asks
## first, so that a machine that cannot install it fails at once, not after the chapters).
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then exit 0; fi; \
	$(FIND_SUDO); \
	if [ "$$SUDO" = none ]; then \
	  echo "The browser tests need Chromium and chromedriver at /usr/bin/chromium and"; \
	  echo "/usr/bin/chromedriver, and this machine cannot install them without root."; \
	  echo "Install Debian's chromium and chromium-driver packages (ask an administrator), or"; \
	  echo "run 'make check' for lint and the unit tests without the browser."; exit 1; fi; \
	command -v apt-get >/dev/null 2>&1 || { echo "no apt-get here: install Chromium and" \
	  "chromedriver at /usr/bin by hand, or run 'make check'"; exit 1; }; \
	if [ -n "$(BROWSER_CHECK_ONLY)" ]; then exit 0; fi; \
	echo "installing chromium and chromium-driver for the browser tests"; \
	$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver

## Debian's tcmalloc for TensorFlow (see PRELOAD), installed when missing and this machine lets
## us; where it cannot be, one line says so. (In `make test` the browser installs after it, one
## package manager at a time.)
tcmalloc:
	@if ls $(TCMALLOC_LIB) >/dev/null 2>&1; then exit 0; fi; \
	$(FIND_SUDO); \
	if [ "$$SUDO" != none ] && command -v apt-get >/dev/null 2>&1 && { \
	  $$SUDO apt-get install -y -qq libtcmalloc-minimal4 >/dev/null 2>&1 || { \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq libtcmalloc-minimal4; \
	  } >/dev/null 2>&1; }; then \
	  echo "installed libtcmalloc-minimal4: TensorFlow trains with tcmalloc"; \
	else echo "no tcmalloc here (Debian's libtcmalloc-minimal4): the tests run with the C" \
	  "library's malloc, about a tenth slower"; fi

## Copy the code each chapter teaches from coursekit into its cell (tests/test_taught_code.py),
## then re-pair every chapter: write the Colab .ipynb (no outputs) from its .md source.
sync: install
	$(BIN)/python tests/test_taught_code.py
	$(BIN)/jupytext --update --to ipynb notebooks/*.md
	$(BIN)/python book/colab_notebooks.py

## Build the graded assignments from their sources (instructors/assignments/): the student
## notebooks into assignments/, the autograder zips into _build/autograder/.
assignments: install
	$(BIN)/python instructors/assignments/build_assignments.py

freeze: install
	{ head -n 2 requirements.txt; $(BIN)/python -m pip freeze --exclude-editable \
	  | grep -v '^coursekit'; } > requirements.new && mv requirements.new requirements.txt

clean:
	rm -rf _build
