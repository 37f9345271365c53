# Short commands for the README. Everything runs from a local virtualenv (.venv).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: demo test test-unit lint format typecheck venv build bench bench-quick bench-e2e bench-table broker-start broker-stop clean \
	image image-steps dockerfile-check manifests-check deploy-check

# Create the virtualenv, install (compiling the Cython matcher) and run the main job
# on the bundled sample events with the bundled policy (no Kafka needed).
demo: venv
	$(VENV)/bin/auditpipe run

# The whole suite: unit tests, both matcher twins, and the Kafka tests against a real
# broker (started by devtools.kafka, the module behind scripts/kafka-dev, unless
# KAFKA_BOOTSTRAP_SERVERS is set).
test: venv
	$(PY) -m pytest bench -q --benchmark-disable
	AUDITPIPE_NO_EXTENSIONS=1 $(PY) -m pytest -m "not kafka" -q
	$(PY) -m pytest

test-unit: venv
	$(PY) -m pytest -m "not kafka"

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py $(wildcard _fastmatch/*.pyx) $(wildcard _fastmatch/*.pxi)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test,bench,dev]"
	touch $@

# ruff: lint rules and formatting are configured in pyproject.toml.
LINTED := pipeline _fastmatch devtools tests bench scripts deploy/container
lint: venv
	$(PY) -m ruff check $(LINTED)
	$(PY) -m ruff format --check $(LINTED)

format: venv
	$(PY) -m ruff check --fix $(LINTED)
	$(PY) -m ruff format $(LINTED)

typecheck: venv
	$(PY) -m mypy --strict pipeline _fastmatch devtools deploy/container/healthcheck.py

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
	$(PY) -m bench.compile_scaling --sizes 100000 --policies realistic,distinct,same --json bench/results/compile.json
	$(PY) -m bench.offline --events 50000 --json bench/results/offline.json
	$(PY) bench/e2e.py
	$(PY) bench/table.py > bench/results/TABLE.md
	cat bench/results/TABLE.md

broker-start: venv
	scripts/kafka-dev start

broker-stop: venv
	scripts/kafka-dev stop

# The container image (Docker with BuildKit). Push it where your overlay's `images:` points.
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"$$/\1/p' pipeline/__init__.py)
IMAGE   ?= auditpipe:$(VERSION)
SOURCE  ?= $(shell git remote get-url origin 2>/dev/null)
image:
	docker build --build-arg VERSION=$(VERSION) --build-arg REVISION=$$(git rev-parse HEAD) \
		--build-arg SOURCE=$(SOURCE) -t $(IMAGE) .

# The Dockerfile's steps without Docker, as CI runs them: build the wheel, install it
# alone into a fresh virtualenv, run it on a read-only file system (build-steps.sh).
image-steps:
	deploy/container/build-steps.sh ci .

# The Dockerfile parsed and linted by BuildKit's own front end (Go; no Docker needed).
dockerfile-check:
	cd deploy/container/dockerfile-check && GOWORK=off go run . ../../../Dockerfile

# The Kubernetes manifests rendered and decoded strictly (deploy/check, Go).
manifests-check:
	go run ./deploy/check deploy/kubernetes/base deploy/kubernetes/overlays/example

deploy-check: dockerfile-check image-steps manifests-check

clean:
	rm -rf build *.egg-info _fastmatch/*.so _fastmatch/_matcher_c.c
