# Gauntlet: `make test-e2e` (the offline acceptance run) and `make test` (unit tests + that run).
# Both set up everything on a fresh machine: the venv, Python packages, Debian packages.

VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
export PYTHONPATH := $(CURDIR)

.PHONY: setup system-packages test test-e2e test-unit report lint trace clean

setup: $(STAMP)

# Debian packages first: libvirt-python builds against libvirt-dev.
$(STAMP): pyproject.toml | system-packages
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e ".[dev,analysis,providers]"
	touch $(STAMP)

system-packages:
	@scripts/install-debian-packages debian-packages.txt

## the offline acceptance run: every feature, against moto on 127.0.0.1
test-e2e: setup
	bin/end-to-end-test features

test-unit: setup
	$(PY) -m pytest

test: test-unit test-e2e

## Allure HTML report of the latest run, rendered offline (npm allure-commandline on Java 17)
report:
	@test -d reports/latest/allure-results || { echo "no run yet: make test-e2e first" >&2; exit 2; }
	test -x node_modules/.bin/allure || npm install --no-audit --no-fund --silent
	node_modules/.bin/allure generate --clean --single-file reports/latest/allure-results -o reports/latest/allure-report
	@echo "open reports/latest/allure-report/index.html"

lint: setup
	$(VENV)/bin/ruff check gauntlet steps tests environment.py benchmarks
	$(VENV)/bin/behave --dry-run -f null --no-summary

trace: setup
	bin/gauntlet trace

clean:
	rm -rf reports/*/ reports/latest .pytest_cache .hypothesis
