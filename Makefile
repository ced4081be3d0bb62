# The two commands of the README: `make demo` and `make test`. Both install what they need.
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# The Makefile runs the local demo: DEBUG on (the settings default to production and refuse to start
# without a real SECRET_KEY). A deployment sets its own environment (docs/operations.md).
demo serve worker: export DEBUG ?= 1

.PHONY: install test eval lint demo serve worker clean dist second-host

# The pinned host and tools, then the plugin from this tree (editable, without re-resolving its ranges).
$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

install: $(VENV)/.installed

lint: install
	$(VENV)/bin/ruff check .

test: lint
	$(VENV)/bin/pytest

# The estimators' quality evaluations on the real data in ../shared/data (marker `eval`, under a minute):
# left out of `make test` because they score the math, not the app, and do not depend on the database.
eval: install
	$(VENV)/bin/pytest -q -m eval

demo: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py generate_ml_data --if-empty --demo-user
	$(PY) manage.py train forecast
	$(PY) manage.py train recommendation
	$(PY) manage.py train segmentation --params '{"n_clusters": 6}'
	$(PY) manage.py train inventory
	@echo "Serving on http://127.0.0.1:$(PORT)/ (admin/admin) with a background worker; Ctrl-C stops both."
	$(PY) manage.py db_worker & WORKER=$$!; trap "kill $$WORKER" EXIT INT TERM; \
		$(PY) manage.py runserver 127.0.0.1:$(PORT)

# The plugin's sdist and wheel in dist/.
dist: install
	rm -rf dist build
	$(PY) -m build --outdir dist .

# The wheel installed into a fresh project with another schema, smoke-tested over HTTP (docs/installation.md).
second-host: install
	PYTHON=$(PY) bash tests/second_host/run.sh

clean:
	rm -rf $(VENV) db.sqlite3* ml_models logs/*.log dist build *.egg-info

serve: install
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

# The background worker of the database task backend (the default); see docs/operations.md for RQ.
worker: install
	$(PY) manage.py db_worker --no-reload
