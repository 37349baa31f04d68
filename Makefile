# The two commands of the README, and the pieces they are made of.
.PHONY: setup demo smoke test lint unit integration lab-up lab-down clean

VENV := .venv
BIN := $(VENV)/bin

setup: $(VENV)/.setup-done

$(VENV)/.setup-done: pyproject.toml scripts/setup.sh
	scripts/setup.sh
	touch $@

## make demo: set up, bring the lab up, deliver examples/full.yaml through all seven phases on lab hosts.
demo: setup
	scripts/demo.sh

## make smoke: the lab with two smoke hosts and the smoke playbook on them.
smoke: setup
	$(BIN)/orchestrator lab up --hosts 2
	$(BIN)/orchestrator lab smoke

## make test: set up, lint, type-check, and run the whole suite (unit + integration against the lab).
test: setup lint
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest tests/unit

integration: setup
	$(BIN)/pytest tests/integration

lab-up: setup
	$(BIN)/orchestrator lab up --hosts 2

lab-down: setup
	$(BIN)/orchestrator lab down

clean:
	-$(BIN)/orchestrator lab down
	rm -rf $(VENV) .lab .mypy_cache .ruff_cache .pytest_cache
