# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint i18n bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(STAMP)

run: $(STAMP)
	$(BIN)/zhengfeng db upgrade
	$(BIN)/zhengfeng import-departments --sample --if-empty
	$(BIN)/zhengfeng run

test: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Re-extract the message catalog template and merge it into every language.
i18n: $(DEV_STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _ -k N_ --no-location --sort-output \
		--project zhengfeng -o bot/locale/zhengfeng.pot bot handlers scheduler db
	$(BIN)/pybabel update -D zhengfeng -i bot/locale/zhengfeng.pot -d bot/locale --no-fuzzy-matching --ignore-obsolete

bench: $(DEV_STAMP)
	$(BIN)/python bench/report_flow.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
