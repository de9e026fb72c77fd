# VisioRegul: `make demo` runs the demo, `make test` runs every check. Both install what they need
# (Python packages in .venv; as root: the sandbox Asterisk, sipp, PostgreSQL, Chromium).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: help setup system demo test lint typecheck unit bench field bundle clean

help:
	@echo "make demo   - the service on its embedded defaults, the sandbox Asterisk and a simulated 15 call"
	@echo "make test   - lint, type checks and every test against real Asterisk, sipp, PostgreSQL, Chromium"
	@echo "make bench  - the benchmarks (tests/bench), printing their figures"
	@echo "make field  - calibrate the emulated networks, then sessions on each (as root)"
	@echo "make bundle - rebuild the patient page's script (patient_page/static/dist/patient.js)"

setup: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@# setuptools' editable install of mapped folders warns at every install against a folder
	@# named like the package; the project has none (no `visioregul/`): that notice is muted.
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The browser code's checks (ESLint, TypeScript's checkJs, Node's test runner) from the npm registry.
node_modules/.installed: package.json package-lock.json
	@node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' || \
	  { echo "Node.js 20 or newer is needed for the browser code's checks"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The patient page's script, one file inlined in the page (see patient_page/inline.py).
bundle: node_modules/.installed
	npm run --silent bundle

system:
	bash dialplan/sandbox/install.sh
	bash tests/services/chromium.sh
	bash tests/services/fonts.sh
	bash tests/services/nginx.sh
	bash tests/services/coturn.sh
	bash tests/services/netlab.sh

demo: setup
	bash dialplan/sandbox/install.sh
	$(BIN)/python -m tests.sandbox.demo

lint: setup node_modules/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	npx --no-install eslint .
	npx --no-install tsc -p jsconfig.json
	$(BIN)/lint-imports --no-cache --no-logo

typecheck: setup
	$(BIN)/mypy typings/visioregul tests

# "&&": a PostgreSQL that did not start stops here, not as many failed tests later.
test: setup system lint typecheck
	node --test tests/js/
	url="$$(bash tests/services/postgres.sh)" && \
	  VISIOREGUL_TEST_POSTGRES_URL="$$url" $(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS)

bench: setup system
	$(BIN)/pytest -p no:cacheprovider tests/bench --ignore=tests/bench/test_field.py -s $(PYTEST_ARGS)

# The emulated networks (tests/field): each profile's real figures first, then
# VISIOREGUL_FIELD_SESSIONS sessions (30 by default) on each profile.
field: setup system
	$(BIN)/python -m tests.field.calibration
	$(BIN)/pytest -p no:cacheprovider tests/bench/test_field.py -s $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache node_modules
