# The platform's two commands: `make run` and `make test`. Both install what they need first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-test.txt | cksum | cut -d' ' -f1)

.PHONY: run test install demo token bench clean

$(STAMP): requirements.txt requirements-test.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is needed (set PYTHON=python3.11)"; exit 1; }
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m ops.run

test: $(STAMP)
	$(VENV)/bin/ruff check --select F,E9,I --quiet .
	$(PY) -m pytest

demo: $(STAMP)
	$(PY) -m ops.demo

token: $(STAMP)
	$(PY) -m gateway.tokens $(ARGS)

bench: $(STAMP)
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) var .pytest_cache
