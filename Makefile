# Everything runs in the project-local virtualenv .venv (scripts/venv makes it):
# Debian's system Python refuses `pip install` outside one (PEP 668).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
export VENV

.PHONY: test setup venv demo demos screenshots bench dist readme clean

## the README's test command: installs what the tests need, then runs them
test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS)

setup:
	./scripts/setup-test-env

venv:
	./scripts/venv

demo: venv
	$(PY) -m tui demo || [ $$? -eq 1 ]  # exit 1 is the demo's verdict (a root cause), not a failure

## re-record the bundled demo walks (diagnostics/demo/) against real environments (root)
demos: setup
	$(PY) scripts/record-demos

## SVG screenshots of every wizard screen, from the demo recordings
screenshots: setup
	$(PY) scripts/screenshots.py

## time to verdict, start-up and footprint; writes bench/results.{md,json}
bench: setup
	$(PY) -m bench

## one self-contained Linux x86_64 executable: dist/fcp-doctor (PyInstaller; cached by source hash)
dist: setup
	$(PY) packaging/build.py

## the README's table of root causes, written from the catalog (a test checks they agree)
readme:
	$(PY) scripts/cause-table

clean:
	rm -rf build dist *.egg-info .pytest_cache
