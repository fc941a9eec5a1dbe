# The two commands a newcomer runs (see README): `make demo` and `make test`.
# Both create .venv, install pobi and start the local stack of real services themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: venv demo test lint stack-up stack-down clean

$(BIN)/pobi: pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { apt-get update -q && apt-get install -y -q python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(BIN)/pobi

venv: $(BIN)/pobi

demo: venv
	$(BIN)/pobi demo

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy

# Starts the stack if it is not running and stops it afterwards only if this run started it.
test: venv lint
	$(BIN)/pobi schemas check
	@was_up=0; $(BIN)/pobi stack status >/dev/null 2>&1 && was_up=1; \
	$(BIN)/pobi stack up || exit 1; \
	$(BIN)/pytest; rc=$$?; \
	if [ $$was_up = 0 ]; then $(BIN)/pobi stack down; fi; \
	exit $$rc

stack-up: venv
	$(BIN)/pobi stack up

stack-down: venv
	$(BIN)/pobi stack down

# the state folder (POBI_STACK_DIR, default ~/.local/state/pobi) holds the hub key: `clean` leaves it alone
clean: stack-down
	rm -rf $(VENV)
