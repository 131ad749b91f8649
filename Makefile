# Two commands for a newcomer: `make demo` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo_out

.PHONY: venv demo test lint format clean

$(BIN)/dynamiccity: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch==2.13.0 on the same line as the project keeps pip on the local CPU build.
	$(BIN)/pip install --quiet torch==2.13.0 -e ".[dev]"
	touch $@

venv: $(BIN)/dynamiccity

demo: venv
	$(BIN)/dynamiccity synth $(DEMO_DIR)/synthtown --scenes 4 --frames 16 --grid 128 128 8 --seed 0
	$(BIN)/dynamiccity inspect $(DEMO_DIR)/synthtown --format synthtown
	$(BIN)/dynamiccity render $(DEMO_DIR)/synthtown --scene 0 --view 3d --out $(DEMO_DIR)/scene0_3d.gif
	$(BIN)/dynamiccity render $(DEMO_DIR)/synthtown --scene 0 --view bev --out $(DEMO_DIR)/scene0_bev.gif
	@echo "demo done: see $(DEMO_DIR)/"

lint: venv
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

test: lint
	$(BIN)/pytest -q

format: venv
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .ruff_cache
