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

## Every benchmark in bench/ with its quick options (16.2 min on 2 shared cores at load 5-11; less when quiet), then the README table.
## The full soak (10,000 cycles, ~8 min) is `$(VENV)/bin/python bench/soak.py`.
bench: $(STAMP) services
	$(VENV)/bin/pip install -q -e '.[bench]'
	$(VENV)/bin/python bench/summary.py --record-machine
	$(VENV)/bin/python bench/tui_cost.py --repeats 1 --window 10 --settle 5 --startup-runs 3
	$(VENV)/bin/python bench/http_cost.py --requests 300 --rounds 2
	$(VENV)/bin/python bench/many_targets.py --label after --quiet-wait 0 --check-runs 1 --tui-runs 1
	$(VENV)/bin/python bench/containers.py --quick --window 10
	$(VENV)/bin/python bench/soak.py --cycles 1500 --max-seconds 100 --results bench/results/soak_quick.json
	$(VENV)/bin/python bench/backups_listing.py --files 2000 --runs 3
	$(VENV)/bin/python bench/ledger.py --appends 500 --records 20000
	$(VENV)/bin/python bench/big_checklist.py
	$(VENV)/bin/python bench/prometheus_agreement.py --seconds 20
	$(VENV)/bin/python bench/serve_viewers.py --runs 1 --seconds 10
	$(VENV)/bin/python bench/wall_idle.py --settle 8 --window 12
	$(VENV)/bin/python bench/recorder_timeline.py --runs 2
	$(VENV)/bin/python bench/summary.py --write-readme

clean:
	rm -rf $(VENV) .pytest_cache
