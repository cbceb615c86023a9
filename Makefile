# k2think: `make run` sets everything up and solves a sample problem; `make test` sets up and runs the suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
FIND_LINKS := $(if $(PIP_FIND_LINKS),--find-links $(PIP_FIND_LINKS),)
# constraints.txt pins every package the installs resolve (what CI tested); `make lock` refreshes it.
CONSTRAINTS := constraints.txt
UV_INSTALL := $(UV) pip install --python $(PY) $(FIND_LINKS) --constraint $(CONSTRAINTS)
RUN_EXTRAS := cerebras
TEST_EXTRAS := dev,cerebras,train
comma := ,
# make lock resolves the test install's extras, a superset of the run install's.
LOCK_EXTRAS := $(subst $(comma), ,$(TEST_EXTRAS))
# The sample: a code problem whose docstring examples become public tests, so the candidates the model writes
# can disagree and selection keeps one that passes. `make run PROBLEM="..."` solves your own (math by default).
SAMPLE_PROBLEM := docs/sample_problem.txt
PROBLEM ?=
export PROBLEM
DOMAIN ?= $(if $(PROBLEM),math,code)
SEED ?= 1
RUN_MAX_TOKENS ?= 512

.PHONY: run test bench install install-dev lock model protos docs lint clean help image image-gpu image-train test-image

help:
	@echo "make run    - set up (.venv, packages, embedded model) and solve a sample problem end to end"
	@echo "make test   - set up and run the whole test suite (slow tests use the embedded model)"
	@echo "make bench  - run every benchmark (k2think bench --list shows them); results in bench/results/"
	@echo "make protos - regenerate services/gen from protos/"
	@echo "make lock   - re-resolve the dependencies into constraints.txt (the pins every install uses)"
	@echo "make docs   - regenerate the settings tables of README.md and charts/k2think/README.md"
	@echo "make lint   - ruff (lint + format check) and mypy on k2core/ and services/ (part of make test)"
	@echo "make image  - build the k2think image with podman (image-gpu, image-train: the others); make test-image runs it"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(UV): | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check uv

# Stamps keyed on pyproject.toml and constraints.txt make both installs idempotent: a second run skips them.
$(VENV)/.stamp-run: pyproject.toml $(CONSTRAINTS) | $(UV)
	$(UV_INSTALL) -e ".[$(RUN_EXTRAS)]"
	@touch $@

$(VENV)/.stamp-test: pyproject.toml $(CONSTRAINTS) | $(UV)
	$(UV_INSTALL) -e ".[$(TEST_EXTRAS)]"
	@touch $@ $(VENV)/.stamp-run

install: $(VENV)/.stamp-run
install-dev: $(VENV)/.stamp-test

# Re-resolve every extra the installs use and pin the result; local build labels (torch's +cpu) are dropped so
# the pins hold with or without PIP_FIND_LINKS.
lock: | $(UV)
	$(UV) pip compile pyproject.toml $(addprefix --extra ,$(LOCK_EXTRAS)) $(FIND_LINKS) --python-version 3.11 \
		--no-annotate --no-header --quiet \
		| sed -E 's/^([A-Za-z0-9_.-]+==[^+ ]+)\+[A-Za-z0-9.]+/\1/' \
		| { echo '# Every package `make install`/`make install-dev` may install, pinned: `make lock` regenerates it.'; cat; } \
		> $(CONSTRAINTS)

model: install
	$(PY) -m k2core.models --quantisations q4_0 q8_0

protos: install
	$(PY) -m services.gen_protos

# The settings tables (README, chart README) from the settings' field descriptions; a test fails when stale.
docs: install
	$(PY) -m services.settings_docs

# The local stack (planner, solver, judge, gateway as processes) answers the sample problem over gRPC.
run: install model
	@set -euo pipefail; ready=$$(mktemp); \
	$(VENV)/bin/k2think up --json > "$$ready" & stack=$$!; \
	trap 'kill -TERM $$stack 2>/dev/null; wait $$stack; rm -f "$$ready"' EXIT; \
	until [ -s "$$ready" ]; do kill -0 $$stack 2>/dev/null || { echo "the stack failed to start" >&2; exit 1; }; sleep 1; done; \
	target=$$($(PY) -c 'import json,sys; print(json.load(open(sys.argv[1]))["gateway_grpc"])' "$$ready"); \
	problem="$${PROBLEM:-$$(cat $(SAMPLE_PROBLEM))}"; \
	$(VENV)/bin/k2think solve "$$problem" --domain $(DOMAIN) --seed $(SEED) --max-tokens $(RUN_MAX_TOKENS) --target "$$target"

# The gate: ruff (lint + format) and mypy on k2core/ and services/, configured in pyproject.toml.
lint: install-dev
	$(VENV)/bin/ruff check k2core services
	$(VENV)/bin/ruff format --check k2core services
	$(VENV)/bin/mypy

test: install-dev model lint
	$(PY) -m pytest -q -m "not image and not longrun"

# Images with podman (docker/build.sh: base image, wheel reuse, size); the smoke test runs the k2think image.
image:
	docker/build.sh k2think
image-gpu:
	docker/build.sh k2think-gpu
image-train:
	docker/build.sh k2think-train
test-image: install-dev
	$(PY) -m pytest -q -m image tests/test_image.py

bench: install-dev model
	$(VENV)/bin/k2think bench

clean:
	rm -rf $(VENV) .pytest_cache
