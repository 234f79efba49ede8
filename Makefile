# Two commands matter on a fresh machine: `make run` and `make test`. Both create the virtualenv and install
# what they need first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501
# Loopback only: the local single-user mode has no sign-in, so it must not be reachable from the network.
# FORWARDED_ALLOW_IPS empty: the server reports each connection's own address, never an X-Forwarded-For word (proxy
# mode believes identity headers only from RANCHERSYNC_TRUSTED_PROXIES, checked against that address).
STREAMLIT := FORWARDED_ALLOW_IPS= $(PY) -m streamlit run serve.py --server.address 127.0.0.1 --server.port $(PORT) --server.headless true

.PHONY: run demo test lint typecheck test-fast screenshots grafana-twin bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed  ## the dashboard on the embedded SQLite database
	$(PY) -m ranchersync db upgrade
	$(STREAMLIT)

demo: $(VENV)/.installed  ## the dashboard with two simulated Rancher servers and a filled catalogue; Ctrl-C stops both
	$(PY) -m ranchersync db upgrade
	$(PY) -m ranchersync demo --dashboard-port $(PORT)
	# The shell catches Ctrl-C (its children still get it) so that the simulated servers are stopped afterwards.
	trap true INT TERM; $(STREAMLIT); $(PY) -m ranchersync demo --stop

# Three workers on the 2 cores, a test file each at a time (its module and session servers stay shared): most of the
# suite waits on rollouts, browsers and servers, not on the CPU — two workers kept the machine at 0.97 cores busy
# (21.5 min); three use 1.17 and take 17 min.
test: $(VENV)/.installed lint typecheck  ## every test suite (PostgreSQL and browser suites included)
	$(PY) -m pytest -n 3 --dist loadfile

lint: $(VENV)/.installed  ## ruff and the import contracts (pyproject.toml, [tool.importlinter])
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports

typecheck: $(VENV)/.installed
	$(PY) -m mypy

test-fast: $(VENV)/.installed  ## the core tests only
	$(PY) -m pytest tests/core -q

screenshots: $(VENV)/.installed  ## README screenshots of the main screens, from a real browser (Chromium)
	$(PY) scripts/screenshots.py
	RANCHERSYNC_UPDATE_DOCS=1 $(PY) -m pytest tests/e2e/test_reports.py -q  # the reports, Display and Settings

grafana-twin: $(VENV)/.installed  ## README picture of the Grafana dashboard: its PromQL on a real Prometheus, in plotly
	$(PY) scripts/grafana_twin.py docs/screenshots

bench: $(VENV)/.installed  ## every benchmark (figures and ratios; the history one wants RANCHERSYNC_TEST_DATABASE_URL)
	$(PY) -m bench.inventory_listing
	$(PY) -m bench.cli_listing
	$(PY) -m bench.sync_promotion
	$(PY) -m bench.services_page
	$(PY) -m bench.history_queries
	$(PY) -m bench.simulator_rps
	$(PY) -m bench.registry_preflight
	$(PY) -m bench.chaos
	$(PY) -m bench.live_inventory
	$(PY) -m bench.api_latency
	$(PY) -m bench.verification

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-artifacts
