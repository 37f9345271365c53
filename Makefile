# Short commands for the README. Everything runs from a local virtualenv (.venv).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: demo test test-unit typecheck venv build bench bench-quick bench-e2e bench-table broker-start broker-stop clean

# Create the virtualenv, install (compiling the Cython matcher) and run the main job
# on the bundled sample events with the bundled policy (no Kafka needed).
demo: venv
	$(VENV)/bin/auditpipe run

# The whole suite: unit tests, both matcher twins, and the Kafka tests against a real
# broker (started by scripts/kafka-dev unless KAFKA_BOOTSTRAP_SERVERS is set).
test: venv
	$(PY) -m pytest bench -q --benchmark-disable
	AUDITPIPE_NO_EXTENSIONS=1 $(PY) -m pytest -m "not kafka" -q
	$(PY) -m pytest

test-unit: venv
	$(PY) -m pytest -m "not kafka"

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py _fastmatch/_matcher_c.pyx
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test,bench]"
	touch $@

typecheck: venv
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m mypy --strict pipeline _fastmatch

# Rebuild the extension in place (an isolated build, with the setuptools pyproject.toml asks for).
build: venv
	$(PY) -m pip install -q --no-deps -e .

bench: venv
	$(PY) -m pytest bench -q --benchmark-columns=mean,median,ops --benchmark-group-by=group

bench-quick: venv
	$(PY) -m pytest bench -q --benchmark-disable

bench-e2e: venv
	$(PY) bench/e2e.py

# Every row of the README's benchmark table, measured in one run.
bench-table: venv
	mkdir -p bench/results
	$(PY) -m pytest bench -q --benchmark-json=bench/results/micro.json
	$(PY) bench/e2e.py
	$(PY) bench/table.py > bench/results/TABLE.md
	cat bench/results/TABLE.md

broker-start:
	scripts/kafka-dev start

broker-stop:
	scripts/kafka-dev stop

clean:
	rm -rf build *.egg-info _fastmatch/*.so _fastmatch/_matcher_c.c
