# launchdeck: `make demo` to see it, `make test` to prove it. Both work on a fresh machine.
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test unit services services-down bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/launchdeck demo

## Installs and starts the real servers (Docker Engine, PostgreSQL, sshd; Prometheus per test), then runs every test.
test: $(STAMP) services
	$(VENV)/bin/pytest

## Unit and TUI tests only: no servers needed.
unit: $(STAMP)
	$(VENV)/bin/pytest tests/unit tests/tui

services:
	bash scripts/services.sh up

services-down:
	bash scripts/services.sh down

bench: $(STAMP) services
	$(VENV)/bin/pip install -q -e '.[bench]'
	$(VENV)/bin/python bench/tui_cost.py
	$(VENV)/bin/python bench/http_cost.py
	$(VENV)/bin/python bench/many_targets.py --label after --quiet-wait 0

clean:
	rm -rf $(VENV) .pytest_cache
