# Two commands for a new user: `make demo` and `make test`. Both set everything up.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FONT_STAMP := $(VENV)/.cjk-font

.PHONY: demo test test-fast lint typecheck format install clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# Certificates, invite cards and charts print Chinese: a CJK font must be on the machine.
$(FONT_STAMP): | $(STAMP)
	@if [ -n "$$PUFA_CJK_FONT" ] || fc-list :lang=zh 2>/dev/null | grep -q .; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "Installing a CJK font (fonts-wqy-microhei)"; \
		(apt-get install -y -qq fonts-wqy-microhei >/dev/null 2>&1 || \
		 (apt-get update -qq && apt-get install -y -qq fonts-wqy-microhei >/dev/null)); \
	else \
		echo "No CJK font: install fonts-wqy-microhei (or set PUFA_CJK_FONT to a .ttf/.ttc)"; exit 1; \
	fi
	@touch $@

# The report test prints the DOCX through LibreOffice and reads the PDF back (poppler);
# the deployment test has nginx check its sites; one test runs through pgbouncer.
OFFICE_STAMP := $(VENV)/.office
$(OFFICE_STAMP): | $(STAMP)
	@if command -v soffice >/dev/null 2>&1 && command -v pdftotext >/dev/null 2>&1 \
		&& { command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; } \
		&& { command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ]; }; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "Installing LibreOffice Writer, poppler-utils, nginx and pgbouncer (used by tests)"; \
		(apt-get install -y -qq libreoffice-writer-nogui poppler-utils nginx pgbouncer >/dev/null 2>&1 || \
		 (apt-get update -qq && apt-get install -y -qq libreoffice-writer-nogui poppler-utils nginx pgbouncer >/dev/null)); \
	else \
		echo "Install libreoffice-writer-nogui, poppler-utils, nginx and pgbouncer for the tests"; exit 1; \
	fi
	@touch $@

# The dashboard's browser test drives the system's Chromium through Playwright (no
# browser download).
CHROMIUM_STAMP := $(VENV)/.chromium
$(CHROMIUM_STAMP): | $(STAMP)
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "Installing Chromium (the dashboard's browser test)"; \
		(apt-get install -y -qq chromium >/dev/null 2>&1 || \
		 (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)); \
	else \
		echo "Install chromium for the dashboard's browser test"; exit 1; \
	fi
	@touch $@

install: $(STAMP) $(FONT_STAMP)

demo: install
	$(BIN)/pufa demo

# The suite runs in one process per core (at most 8), each test file in one process: each
# process has its own PostgreSQL database and Redis database (tests/conftest.py).
PYTEST_PROCESSES := -n auto --maxprocesses 8 --dist loadfile

test: install $(OFFICE_STAMP) $(CHROMIUM_STAMP) lint typecheck
	$(BIN)/pytest $(PYTEST_PROCESSES)

# Everything but the end-to-end tier (see tests/conftest.py): a quicker loop while working.
test-fast: install lint typecheck
	$(BIN)/pytest $(PYTEST_PROCESSES) -m "not e2e"

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) demo-out .pytest_cache .mypy_cache .ruff_cache
