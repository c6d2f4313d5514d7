# noisybnn: thin targets over the `noisybnn` CLI. Everything here is also a Python function.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
NOISYBNN := $(VENV)/bin/noisybnn
BOARD ?= pynq-z2
MODEL ?= tfc-w1a1
HOST ?=
PYTEST_ARGS ?=

.PHONY: all venv pynqmd demo test test-all estimate bitstream deploy report bench lint clean

all: demo

# One stamp for the whole install: torch CPU wheel first (a plain `torch` would pull a CUDA build),
# then the project with its extras, then finn-plus without its four hard pins (see docs/install.md).
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[finn,sim,dist,dev]'
	$(PY) -m pip install -q --no-deps finn-plus==1.6.1
	touch $@

venv: $(VENV)/.installed

# PYNQ's own .hwh parser (PyPI pynqmetadata) in a side venv: the address-map tests compare our
# reader with it. It cannot share .venv (the pynq stack pins numpy<2); without it they skip.
PYNQMD_VENV := build/pynqmd-venv
$(PYNQMD_VENV)/.installed:
	$(PYTHON) -m venv $(PYNQMD_VENV) && $(PYNQMD_VENV)/bin/pip install -q pynqmetadata==0.2.0 \
	  && touch $@ || echo "pynqmetadata side venv not installed; its cross-check tests skip" >&2

pynqmd: $(PYNQMD_VENV)/.installed

demo: venv
	$(NOISYBNN) demo

test: venv pynqmd
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-all: venv pynqmd
	$(PY) -m pytest -q -m '' $(PYTEST_ARGS)

estimate: venv
	$(NOISYBNN) estimate --model $(MODEL) --board $(BOARD)

bitstream: venv
	$(NOISYBNN) build --model $(MODEL) --board $(BOARD)

deploy: venv
	$(NOISYBNN) deploy --model $(MODEL) --board $(BOARD) --host "$(HOST)"

bench: venv
	$(NOISYBNN) bench

lint: venv
	$(VENV)/bin/ruff check src tests bench host

clean:
	rm -rf build .pytest_cache
