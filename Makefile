# The two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST_PORT ?= 127.0.0.1:8000
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/bigledger
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test lint format services browser venv bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt clients/python/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet -e ./clients/python
	touch $@

# Embedded by default (SQLite + Celery's filesystem broker under var/); set DATABASE_URL,
# CELERY_BROKER_URL and REDIS_URL for PostgreSQL and Redis.
run: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo "API and admin on http://$(HOST_PORT)/ (admin at /admin/, docs at /v1/docs)"
	@$(VENV)/bin/celery -A bigledger worker -B --loglevel=warning --concurrency=2 & \
	worker=$$!; trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py runserver $(HOST_PORT) --insecure --noreload

# Start the local PostgreSQL and Redis when they are not running.
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -1) main start
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || \
	  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
	    --appendonly no --dir /tmp
	@for i in $$(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
	@for i in $$(seq 30); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 1; done

lint: venv
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Debian's Chromium for the browser tests (Playwright drives it; no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

test: venv services browser lint
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
	  CELERY_BROKER_URL=$(TEST_REDIS_URL) $(VENV)/bin/pytest --create-db

bench: venv services
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
	  CELERY_BROKER_URL=$(TEST_REDIS_URL) $(PY) bench/sync_batch.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
