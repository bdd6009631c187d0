# Trichter — two commands: `make run` (set up + start with demo data) and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install migrate demo worker lint bench messages clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

## make run: the embedded default (SQLite + filesystem Celery broker) unless DATABASE_URL/REDIS_URL are set.
run: export DEBUG ?= 1
run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo
	@echo "Starting Trichter on http://$(HOST):$(PORT)/ with a Celery worker (+ beat). Ctrl-C stops everything."
	@trap 'kill 0' INT TERM; \
	  $(VENV)/bin/celery -A config worker --beat --loglevel=INFO --concurrency=2 & \
	  $(PY) manage.py runserver $(HOST):$(PORT) & \
	  wait

## make test: the whole suite on whatever DATABASE_URL/REDIS_URL say (SQLite and no Redis when unset).
test: $(STAMP)
	$(PY) -m pytest

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
