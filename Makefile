# Two commands for a newcomer: `make demo` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= out/demo

.PHONY: venv demo test lint format clean

$(BIN)/dynamiccity: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch==2.13.0 on the same line as the project keeps pip on the local CPU build.
	$(BIN)/pip install --quiet torch==2.13.0 -e ".[dev]"
	touch $@

venv: $(BIN)/dynamiccity

demo: venv
	$(BIN)/dynamiccity demo --out $(DEMO_DIR)

lint: venv
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts

test: lint
	$(BIN)/pytest -q

format: venv
	$(BIN)/ruff format src tests scripts
	$(BIN)/ruff check --fix src tests scripts

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
