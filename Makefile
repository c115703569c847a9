# Two commands on a fresh machine: `make run` (worker + dashboard) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8501
export TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run test lint install install-dev sample migrate worker dashboard chromium slurm clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Stamps make "same install, skipped when up to date": pip runs again only when a
# requirements file changes.
$(VENV)/.installed: requirements.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt $(VENV)/.installed
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

sample: install
	$(PY) -m data.sample

migrate: install
	$(PY) -m db upgrade

worker: migrate
	$(PY) -m trainer worker

dashboard: migrate
	$(PY) -m streamlit run dashboard/app.py --server.address $(HOST) --server.port $(PORT)

# One worker and the dashboard; Ctrl-C (or either one exiting) stops both.
run: sample migrate
	@echo "Dashboard: http://$(HOST):$(PORT)   (Ctrl-C stops the worker and the dashboard)"
	@trap 'kill $$worker $$dashboard 2>/dev/null; wait' INT TERM EXIT; \
	$(PY) -m trainer worker & worker=$$!; \
	$(PY) -m streamlit run dashboard/app.py --server.address $(HOST) --server.port $(PORT) \
		& dashboard=$$!; \
	wait -n $$worker $$dashboard

# Browser tests drive Debian's chromium; install it when missing (CI runs as root).
chromium:
	@command -v chromium >/dev/null || { \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# The Slurm tests start a one-node cluster (as root): Debian's slurm-wlm and munge, when missing.
slurm:
	@command -v slurmctld >/dev/null && command -v munged >/dev/null || { \
		echo "installing Debian's slurm-wlm and munge for the Slurm tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge; }

lint: install-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy .

# Three processes (pytest-xdist; on 2 cores a third fills the time the others wait on
# workers and browsers); the Slurm and browser tests keep to one of them, in turn
# (tests/conftest.py), and the slowest tests are listed at the end.
# mypy (40 s cold) runs beside the tests, in the time they spend waiting on workers and
# browsers; either one failing fails `make test`.
test: install-dev chromium slurm
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	@$(PY) -m mypy . & mypy=$$!; \
	$(PY) -m pytest -n 3 --durations=25; tests=$$?; \
	wait $$mypy; types=$$?; \
	[ $$tests -eq 0 ] && [ $$types -eq 0 ]

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
