# The two commands: `make demo` and `make test`. Both install what they need.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIND_TOOLS := /usr/bin/named-checkzone
NAMED := /usr/sbin/named

.PHONY: demo test unit lint bench bind-tools bind signing-tools deploy-tools ops-tools venv clean \
	debootstrap image integration wheelhouse dist

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e '.[test]'
	touch $@

# The release artifacts: the sdist and the wheel in dist/ (built from the sdist), checked by
# twine. The wheel carries repo-template/, the git hooks, the systemd unit, the example
# daemon.toml, the Prometheus alerts and the Grafana dashboard (share/dns-reconciler/).
dist: venv
	rm -rf dist
	$(PY) -m build --no-isolation --outdir dist .
	$(VENV)/bin/twine check --strict dist/*

# The runtime dependencies (no extras) as wheels, from PyPI once per dependency list: the
# packaging tests install the wheel from here into fresh virtualenvs, offline.
WHEELHOUSE := build/wheelhouse
wheelhouse: $(WHEELHOUSE)/.made

$(WHEELHOUSE)/.made: pyproject.toml | venv
	rm -rf $(WHEELHOUSE)
	$(PY) -m pip wheel -q --no-build-isolation -w $(WHEELHOUSE) .
	rm -f $(WHEELHOUSE)/dns_reconciler-*.whl
	touch $@

# BIND's tools (named-checkzone, named-compilezone, named-checkconf) from Debian.
bind-tools:
	@command -v named-checkzone >/dev/null || test -x $(BIND_TOOLS) || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bind9-utils; }

# The name server itself, for the demo and the functional tests.
bind: bind-tools
	@test -x $(NAMED) || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bind9 bind9-utils bind9-dnsutils; }

# git's signature checks (gpg for GPG-signed commits, ssh-keygen for SSH-signed ones).
signing-tools:
	@{ command -v gpg && command -v ssh-keygen; } >/dev/null || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnupg openssh-client; }

# systemd-analyze, to verify deploy/reconciler.service.
deploy-tools:
	@command -v systemd-analyze >/dev/null || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd; }

# promtool (Debian's prometheus package), to check deploy/prometheus/alerts.yml; knotc (Debian's
# knot package), to check the Knot secondary configuration `bind-config --software knot` prints.
# Only the tools are wanted: where systemd runs, the services the packages enable are stopped.
ops-tools:
	@{ command -v promtool && { command -v knotc || test -x /usr/sbin/knotc; }; } >/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends prometheus knot && \
	  if [ -d /run/systemd/system ]; then systemctl disable --now prometheus knot || true; fi; }

# debootstrap, to make the base image (debian:bookworm-slim) from Debian's packages.
debootstrap:
	@command -v debootstrap >/dev/null || test -x /usr/sbin/debootstrap || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; }

# The image of deploy/Dockerfile, built offline (integration/images.py): the base made with
# debootstrap once per machine, the wheelhouse once per dependency list, the image again only
# when its inputs change. Without a Docker engine this says so and goes on: the integration
# suite then skips (or fails, with CI=true).
image: venv debootstrap
	@if $(PY) -c 'import docker; docker.from_env().ping()' >/dev/null 2>&1; then \
	  $(PY) -m integration.images image; \
	else echo "image: no Docker engine answers; the integration suite will say so"; fi

# BIND primary and secondaries in Docker containers, with real faults (integration/).
integration: venv image
	$(PY) -m pytest -q integration

# All tests, with the package's coverage (the programs the tests start included) printed.
# In TEST_WORKERS processes (pytest-xdist): most tests wait on named, git and sockets rather
# than on a core, so 3 keep 2 cores busy. The Docker suite is one group (one worker, one
# topology); every other test goes to whichever worker is free. TEST_WORKERS=0: one process.
TEST_WORKERS ?= 3
test: venv wheelhouse bind signing-tools deploy-tools ops-tools image lint
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup --cov=reconciler --cov-report=term \
	  tests integration

# The pure tier alone: values in, values out (tests marked `unit`); seconds, no BIND needed.
unit: venv
	$(PY) -m pytest -q -m unit tests

# ruff, the layers of the pipeline (import-linter; the contracts are in pyproject.toml) and
# the types (mypy --strict over the package).
lint: venv
	$(VENV)/bin/ruff check reconciler tests bench integration
	$(VENV)/bin/ruff format --check reconciler tests bench integration
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

# A primary and two secondaries on loopback, a repo, one apply; Ctrl-C stops it all.
# DEMO_DIR=/some/dir make demo keeps the demo's files there.
demo: venv bind
	$(VENV)/bin/reconciler demo $(if $(DEMO_DIR),--dir $(DEMO_DIR))

# The bench's own venv: the peers it is compared with (dzonegit, octoDNS with octodns-bind),
# matplotlib for its plot and py-spy to profile; never the project's dependencies.
BENCH_VENV := bench/.venv
BENCH_PEERS := dzonegit octodns octodns-bind matplotlib py-spy

$(BENCH_VENV)/.installed:
	test -x $(BENCH_VENV)/bin/python || python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q $(BENCH_PEERS)
	touch $@

# Every comparison of issue 13 in one run: bench/results.md and bench/push_served.png.
bench: venv bind $(BENCH_VENV)/.installed
	$(PY) bench/bench.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache
