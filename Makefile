# agentfleet.nemoclaw — developer entry points. Every target that needs the
# toolchain depends on `setup`, which builds .venv from pinned requirements.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT     := $(CURDIR)
VENV     := $(ROOT)/.venv
PY       := $(VENV)/bin/python
BIN      := $(VENV)/bin
COLL     := $(ROOT)/.collections
COLL_DIR := $(COLL)/ansible_collections/agentfleet/nemoclaw
PYTEST   := $(PY) -m pytest
XDIST    ?= -n 2 --dist loadfile
PYVER     = $(shell $(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
export ANSIBLE_CONFIG := $(ROOT)/ansible.cfg
export PATH := $(BIN):$(PATH)
export PYTHONDONTWRITEBYTECODE := 1

DEMO_ROOT ?= $(ROOT)/.cache/demo

.PHONY: help setup system-deps lock demo demo-clean test test-unit test-sim test-sanity lint test-integration test-reliability test-simulated test-molecule \
        test-oldest bench build changelog clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 20

$(VENV)/.stamp: requirements.txt requirements-lock.txt scripts/find-python
	@py=$$(scripts/find-python); echo "setup: using $$py"; \
	  [ -x $(PY) ] || "$$py" -m venv $(VENV); \
	  $(PY) -m pip install -q --disable-pip-version-check -r requirements.txt -c requirements-lock.txt
	@touch $@

$(COLL_DIR):
	@mkdir -p $(dir $(COLL_DIR)) && ln -sfn $(ROOT) $(COLL_DIR)

setup: $(VENV)/.stamp $(COLL_DIR)  ## create .venv from pinned requirements, link the collection (no system packages)
	@scripts/ansible-test-offline-bootstrap

system-deps:  ## system packages only Molecule's SSH hosts need (sshd, ssh): apt-get when root, else says what to install
	@scripts/install-system-deps

lock: $(VENV)/.stamp  ## refresh requirements-lock.txt from the current venv
	$(PY) -m pip freeze --exclude-editable > requirements-lock.txt

demo: setup  ## the local demo: rollout on inventories/local (simulator), then the --check --diff drift run
	NEMOCLAW_DEMO_ROOT=$(DEMO_ROOT) scripts/demo

demo-clean:  ## stop the demo's simulated gateway and remove its files
	@pid=$$(cat $(DEMO_ROOT)/home/.local/state/openshell/gateway.pid 2>/dev/null || true); \
	  if [ -n "$$pid" ]; then kill $$pid 2>/dev/null || true; fi
	rm -rf $(DEMO_ROOT)

# ansible-test sanity runs its tests one after another on one CPU (about two minutes) and is the longest of
# the first four suites: the unit tests, ansible-lint and the simulator's suite run beside it at a lower
# priority (BESIDE), so that they use the other CPU and what sanity leaves. The integration and reliability
# suites run as one session (test-simulated): their modules share the two workers.
BESIDE ?=
test: setup  ## run every test suite
	@$(MAKE) --no-print-directory -j3 --output-sync=target test-sanity test-unit lint test-sim BESIDE="nice -n 10"
	@$(MAKE) --no-print-directory test-simulated test-molecule
	@echo "make test: all suites passed"

# The xdist workers (and any Python the tests start) measure themselves through coverage's .pth hook.
test-unit: setup  ## unit tests of plugins (pure logic) with line coverage of module_utils
	rm -f .coverage .coverage.*
	COVERAGE_PROCESS_START=$(ROOT)/.coveragerc PYTHONPATH=$(COLL) $(BESIDE) $(PY) -m coverage run -m pytest -q -p no:cacheprovider $(XDIST) tests/unit
	$(PY) -m coverage combine -q
	$(PY) -m coverage report

test-sim: setup  ## the OpenShell simulator's own test suite
	$(BESIDE) $(PYTEST) -q $(XDIST) -p no:cacheprovider tests/simulator/tests

# Outside the checkout: inside it, git would report the copy as ignored and ansible-test would skip everything.
# One directory per checkout (a checksum of its path), so that two checkouts' runs never share the copy.
SANITY_DIR := $(or $(TMPDIR),/tmp)/agentfleet-nemoclaw-sanity-$(shell printf %s '$(ROOT)' | cksum | cut -d' ' -f1)/ansible_collections/agentfleet/nemoclaw
test-sanity: setup  ## ansible-test sanity on a copy of the tracked tree (it needs a real ansible_collections/ path)
	rm -rf $(SANITY_DIR) && mkdir -p $(SANITY_DIR)
	git ls-files -z --cached --others --exclude-standard \
	  | tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C $(SANITY_DIR)
	cd $(SANITY_DIR) && $(BIN)/ansible-test sanity --venv --python $(PYVER) --requirements --color no

lint: setup  ## ansible-lint, production profile
	$(BESIDE) $(BIN)/ansible-lint --profile production --nocolor

# --dist loadfile: the tests of a module chain steps on one fleet (the suites' conftest refuses other modes).
# --no-loadscope-reorder: keep the conftest's order, longest modules first (playrunner.MODULE_SECONDS).
PLAYTESTS := $(PYTEST) -q $(XDIST) --no-loadscope-reorder -p no:cacheprovider
test-integration: setup  ## module and playbook integration tests against the simulator
	$(PLAYTESTS) --durations=15 tests/integration

test-reliability: setup  ## faults, host lock, bad-input corpus and secret audit against the simulator (docs/reliability.md)
	$(PLAYTESTS) --durations=10 tests/reliability

test-simulated: setup  ## test-integration and test-reliability as one session (what `make test` runs)
	$(PLAYTESTS) --durations=20 tests/integration tests/reliability

test-molecule: setup system-deps  ## EE build context, then Molecule scenarios over real SSH hosts (molecule/README.md)
	$(PYTEST) -q -p no:cacheprovider tests/ee
	molecule/run

OLD_VENV := $(ROOT)/.venv-oldest
OLD_PY   := $(OLD_VENV)/bin/python
$(OLD_VENV)/.stamp: requirements-oldest.txt scripts/find-python
	@py=$$(scripts/find-python); [ -x $(OLD_PY) ] || "$$py" -m venv $(OLD_VENV); \
	  $(OLD_PY) -m pip install -q --disable-pip-version-check -r requirements-oldest.txt
	@touch $@

test-oldest: setup $(OLD_VENV)/.stamp  ## unit, sanity and installed-tarball tests on the oldest ansible-core claimed (not part of `test`)
	PYTHONPATH=$(COLL) $(OLD_PY) -m pytest -q -p no:cacheprovider tests/unit
	$(OLD_PY) -m pytest -q -p no:cacheprovider tests/integration/test_installed.py
	PY=$(OLD_PY) scripts/ansible-test-offline-bootstrap
	$(MAKE) --no-print-directory test-sanity BIN=$(OLD_VENV)/bin

bench: setup  ## benchmarks (print figures; not timed tests)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; PYTHONPATH=$(COLL) $(PY) $$b; done

build: setup  ## build the collection tarball into dist/
	$(BIN)/ansible-galaxy collection build --force --output-path dist/

changelog: setup  ## lint changelog fragments
	$(BIN)/antsibull-changelog lint

clean:  ## remove generated files (keeps .venv)
	rm -rf dist tests/output .pytest_cache .coverage .coverage.* .ansible
