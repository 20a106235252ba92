# The usual verbs. Each one sets up .venv first, so a fresh clone needs only Python 3.11+.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: digest test browser lint fmt golden bench preview clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

digest: $(STAMP)  ## build today's issue from seeds/ with the shipped digest.toml
	$(BIN)/digest build

test: $(STAMP) browser  ## lint, type-check and run the whole test suite
	$(BIN)/ruff check digest tests bench
	$(BIN)/ruff format --check digest tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest

browser:  ## Debian's chromium for the preview tests (Playwright drives it; no browser download)
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

lint: $(STAMP)
	$(BIN)/ruff check digest tests bench
	$(BIN)/ruff format --check digest tests bench
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff check --fix digest tests bench
	$(BIN)/ruff format digest tests bench

golden: $(STAMP)  ## rewrite the golden files after an intended change of output
	$(BIN)/python -m pytest --update-golden

bench: $(STAMP)
	$(BIN)/python bench/build_speed.py

preview: $(STAMP)  ## live preview of the archive and today's issue at http://127.0.0.1:8000/
	$(BIN)/digest serve

clean:
	rm -rf $(VENV) .digest out/20*
