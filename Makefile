# Two commands matter: `make run` and `make test`. Both create .venv first.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit chromium docker-test bench bench-check clean check-config report validate

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "python3.11 not found; set PY=/path/to/python3.11"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/python main.py run --speed 30

test: $(STAMP) lint typecheck unit docker-test

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check core actors broker db engine tui main.py
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy core actors broker db engine tui main.py

# Two pytest-xdist workers, whole files to a worker (a module-scoped fixture is made once, not
# once per worker); then the load-sensitive files (marker `serial`: the crash harness, the inbox
# burst, the IB validation run, ...) alone, one at a time, as they were measured. README, Testing.
WORKERS ?= 2
unit: $(STAMP) chromium
	$(BIN)/pytest -n $(WORKERS) --dist loadfile -m "not serial" --durations=15
	$(BIN)/pytest -m serial --durations=15

# Headless Chromium for the HTML report's test (tests/test_main_report_html.py draws every chart in
# it): Debian's package, installed when missing (root, like docker-test's docker.io).
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

# The Docker deployment for real (about 3 minutes; root: it installs docker.io, runs its own
# dockerd and removes everything it created). See README "Deploy with Docker".
docker-test: $(STAMP)
	PYTHON=$(abspath $(BIN))/python deploy/docker_test.sh

bench: $(STAMP)
	$(BIN)/python -m bench

# The quick figures against their committed values (bench/check_baseline.json); fails when one
# is more than 2x worse relative to a calibration measured in the same process (CI runs it).
bench-check: $(STAMP)
	$(BIN)/python -m bench.check

check-config: $(STAMP)
	$(BIN)/python main.py check-config

# The 20-trade validation over the IB API against tws-sim (about 20 wall minutes); see README.
validate: $(STAMP)
	rm -f data/validation.db
	$(BIN)/python main.py validate --out docs/VALIDATION.md

report: $(STAMP)
	$(BIN)/python main.py report

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
