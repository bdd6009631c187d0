# Trichter — two commands: `make run` (set up + start with demo data) and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install lint bench messages clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

## make run: the embedded default (SQLite + filesystem Celery broker) unless DATABASE_URL/REDIS_URL are set.
# The worker and the web server run as background jobs in process groups of their own (set -m), so a
# Ctrl-C reaches only make and this shell; the trap then stops each of them by its main process and
# waits. Signalling the worker's whole group instead kills its pool children while they hold the
# pool's queue lock, and the worker then hangs in its shutdown. If either one exits, the other is
# stopped too.
run: export DEBUG ?= 1
run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo
	@echo "Starting Trichter on http://$(HOST):$(PORT)/ with a Celery worker (+ beat). Ctrl-C stops everything."
	@set -m; pids=""; \
	  stop() { trap '' INT TERM; set +m; [ -z "$$pids" ] || kill -TERM $$pids 2>/dev/null; wait; }; \
	  trap 'stop; exit 130' INT TERM; \
	  $(VENV)/bin/celery -A config worker --beat --loglevel=INFO --concurrency=2 </dev/null & pids="$$!"; \
	  $(PY) manage.py runserver $(HOST):$(PORT) </dev/null & pids="$$pids $$!"; \
	  wait -n; status=$$?; stop; exit $$status

## make test: the whole suite on whatever DATABASE_URL/REDIS_URL say (SQLite and no Redis when unset).
## Extra pytest arguments: make test PYTEST_ARGS="-k config -x".
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

## make bench: see bench/README.md (needs DATABASE_URL pointing at PostgreSQL).
bench: $(STAMP)
	$(PY) bench/run.py

messages: $(STAMP)
	$(PY) manage.py makemessages -l de --ignore '.venv/*' --ignore 'var/*'
	$(PY) manage.py compilemessages --ignore '.venv/*'

clean:
	rm -rf var/ $(VENV)
