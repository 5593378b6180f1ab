# The two commands: `make run` serves the platform, `make test` runs the whole suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
VENDOR := keyprojects/static/vendor

.PHONY: run test lint format assets install install-dev serve migrate bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $(VENV)/.runtime $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Front-end packages are copied from npm into the app's static folder; nothing loads from a CDN.
$(VENDOR)/.copied: node_modules/.installed Makefile
	mkdir -p $(VENDOR)
	cp node_modules/bootstrap/dist/css/bootstrap.min.css node_modules/bootstrap/dist/css/bootstrap.min.css.map $(VENDOR)/
	cp node_modules/bootstrap/dist/js/bootstrap.bundle.min.js node_modules/bootstrap/dist/js/bootstrap.bundle.min.js.map $(VENDOR)/
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/
	cp node_modules/echarts/dist/echarts.min.js $(VENDOR)/
	touch $@

install: $(VENV)/.runtime $(VENDOR)/.copied
install-dev: $(VENV)/.dev $(VENDOR)/.copied
assets: $(VENDOR)/.copied

migrate: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v0

run: migrate
	$(BIN)/python manage.py seed_demo --if-empty
	PORT=$(PORT) ./scripts/serve

test: install-dev
	./scripts/test

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install-dev
	$(BIN)/python bench/project_list.py

clean:
	rm -rf $(VENV) node_modules $(VENDOR) var/static
