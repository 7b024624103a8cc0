# The platform's two commands: `make run` and `make test`. Both install what they need first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# A stamp per requirements set: `make run` installs only what runs, `make test` adds the test tools.
RUNTIME := $(VENV)/.runtime-$(shell cat requirements.txt | cksum | cut -d' ' -f1)
TESTING := $(VENV)/.testing-$(shell cat requirements.txt requirements-test.txt | cksum | cut -d' ' -f1)
PIP := $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: run test install demo token mailout import bench clean

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is needed (set PYTHON=python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(RUNTIME): requirements.txt | $(PY)
	rm -f $(VENV)/.runtime-*
	$(PIP) -r requirements.txt
	touch $@

$(TESTING): requirements.txt requirements-test.txt $(RUNTIME)
	rm -f $(VENV)/.testing-*
	$(PIP) -r requirements-test.txt
	touch $@

# Browser tests drive Debian's Chromium through Playwright (no browser download).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

install: $(TESTING)

run: $(RUNTIME)
	$(PY) -m ops.run

test: $(TESTING) $(CHROMIUM)
	$(VENV)/bin/ruff check --select F,E9,I --quiet .
	$(VENV)/bin/mypy
	$(PY) -m pytest

demo: $(RUNTIME)
	$(PY) -m ops.demo

token: $(RUNTIME)
	$(PY) -m gateway.tokens $(ARGS)

mailout: $(RUNTIME)
	$(PY) -m ops.mailout $(ARGS)

import: $(RUNTIME)
	$(PY) -m ops.importer $(ARGS)

# Measures with wrk (Debian's package, installed here when apt-get can) or else with Python threads.
bench: $(TESTING)
	@command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 \
		|| echo "wrk is not installed (apt-get install -y wrk): the bench measures with Python threads"
	$(PY) -m bench.run $(ARGS)
	[ -n "$(ARGS)" ] || $(PY) -m bench.mailout
	[ -n "$(ARGS)" ] || $(PY) -m bench.imports
	[ -n "$(ARGS)" ] || $(PY) -m bench.patches

clean:
	rm -rf $(VENV) var .pytest_cache
