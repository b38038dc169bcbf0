PY ?= python3
PYTEST_ARGS ?=

.PHONY: test setup demo demos screenshots bench dist clean

## the README's test command: installs what the tests need, then runs them
test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS)

setup:
	./scripts/setup-test-env

demo:
	$(PY) -m pip install -q --disable-pip-version-check -e . 2>/dev/null || $(PY) -m pip install -q -e .
	$(PY) -m tui demo || [ $$? -eq 1 ]  # exit 1 is the demo's verdict (a root cause), not a failure

## re-record the bundled demo walks (diagnostics/demo/) against real environments (root)
demos:
	$(PY) scripts/record-demos

## SVG screenshots of every wizard screen, from the demo recordings
screenshots:
	$(PY) scripts/screenshots.py

## time to verdict, start-up and footprint (run `make setup` first); writes bench/results.{md,json}
bench:
	$(PY) -m bench

## one self-contained Linux x86_64 executable: dist/fcp-doctor (PyInstaller; cached by source hash)
dist:
	$(PY) packaging/build.py

clean:
	rm -rf build dist *.egg-info .pytest_cache
