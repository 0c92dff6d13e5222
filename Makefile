# The two newcomer commands (see README): `make demo` and `make test`. Both set themselves up
# (the pinned requirements, then the `sps` package itself, editable: `pip install -e .`).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test install install-dev chromium notebooks

$(BIN)/python:
	$(PY) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt -e .

install-dev: $(BIN)/python
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt -e .

# Debian's chromium for the browser test (never `playwright install`); needs root or sudo.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

demo: install
	$(BIN)/python app.py

test: install-dev chromium
	$(BIN)/python -m pytest --nbmake tests notebooks

# Re-execute every tutorial in place, keeping its printed text and dropping its pictures (they show research photos).
notebooks: install-dev
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace notebooks/*.ipynb
	$(BIN)/python scripts/strip_notebook_images.py notebooks/*.ipynb
