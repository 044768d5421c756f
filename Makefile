# make run  : set up (virtualenv, install, migrate, Redis) and start web + worker + beat in the foreground
# make test : the same set-up, then the whole test suite (DATABASE_URL picks SQLite or PostgreSQL)
# make lint : ruff and mypy (CI runs it before the suites)
# make fuzz : schemathesis (every check, >= 30 examples per operation) against make run's processes;
#             needs DATABASE_URL (PostgreSQL) and REDIS_URL (a database of its own: it is flushed)
# make bench: issue 14's workloads on BullMQ (bench/bullmq, Node; bullmq from npm on first run) and on
#             ours side by side, one table (bench/side_by_side.py); needs DATABASE_URL (PostgreSQL, a
#             database of its own: its jobs are deleted); flushes Redis DBs 9 (ours) and 10 (BullMQ) of
#             REDIS_URL's server. BENCH_ARGS: --quick (small sizes), --only burst,every,bulk,http,lateness,
#             --heavy (adds burst100k)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test fuzz bench install lint superuser clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) -m config.devstack run

test: install
	$(PY) -m config.devstack test $(PYTEST_ARGS)

fuzz: install
	$(PY) scripts/fuzz_live.py $(FUZZ_ARGS)

bench: install
	$(PY) bench/side_by_side.py $(BENCH_ARGS)

# ruff, then mypy with the django-stubs / DRF plugins (pyproject [tool.mypy]); the plugin imports the
# settings, which need no secrets with TESTING=1.
lint: install
	$(VENV)/bin/ruff check .
	TESTING=1 $(VENV)/bin/mypy

superuser: install
	$(PY) manage.py createsuperuser

clean:
	rm -rf $(VENV) var
