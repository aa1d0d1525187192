# The front door. `make run` starts the local stack; `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The shared package's definition: every venv's stamp depends on it (see install-common).
COMMON := common/pyproject.toml
REQUIREMENTS := chat-api/requirements.txt requirements-dev.txt $(COMMON)
export PYTHONPATH := $(CURDIR)/scripts:$(CURDIR)/chat-api

# $(call make-venv,DIR) in a recipe: check for Python 3.11 and its venv module (installing the
# module with apt-get when root), then create the virtual environment DIR.
define make-venv
@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is missing: install Python 3.11 (Debian: apt-get install python3.11 python3.11-venv)"; exit 1; }
@$(PYTHON) -c "import ensurepip, venv" 2>/dev/null || { \
  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get update -qq && apt-get install -y -qq python3.11-venv >/dev/null; \
  else echo "Python's venv module is missing: run 'sudo apt-get install python3.11-venv'"; exit 1; fi; }
$(PYTHON) -m venv $(1)
endef

# The shared package (common/chatbot_common, standard library only) goes into every venv as a
# path: `$(call install-common,PY)` in a venv's recipe writes a .pth file naming common/, so
# nothing is built (some venvs pin a setuptools that cannot build it) and edits apply at once.
define install-common
echo "$(CURDIR)/common" > "$$($(1) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/chatbot_common.pth"
$(1) -c "import chatbot_common"
endef

# Each component adds its own targets in mk/<component>.mk, its test target to TEST_TARGETS and
# what `make run` needs installed (its venv stamp) to RUN_DEPS.
TEST_TARGETS := test-python
# The fast tier: unit tests only, no server and no child process (pytest -m "$(FAST_TESTS)";
# local_stack.pytest_plugin marks every test that needs the stack). Components add theirs.
FAST_TESTS := not stack and not slow
TEST_FAST_TARGETS := test-fast-python
RUN_DEPS :=
-include $(sort $(wildcard mk/*.mk))

.PHONY: help run test test-fast test-fast-python test-python lint format bench scaling token emotion-predict feedback-schema lock system-deps clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): $(REQUIREMENTS)
	$(call make-venv,$(VENV))
	$(PY) -m pip install --quiet --disable-pip-version-check -r chat-api/requirements.txt -r requirements-dev.txt
	$(call install-common,$(PY))
	@touch $@

run: $(STAMP) $(RUN_DEPS) ## Start the local stack on 127.0.0.1 (web app 3000, chat API 8080, AWS 4566, model 4567)
	$(PY) -m local_stack

test: lint $(TEST_TARGETS) ## Run every test of the repository

# The components' unit tiers run side by side (each its own venv and pytest), their outputs kept
# apart.
test-fast: ## The unit tier of every component (no servers; under a minute)
	@$(MAKE) --no-print-directory -j 3 --output-sync=target $(TEST_FAST_TARGETS)

# The contract test is a stack test whose module alone imports schemathesis and hypothesis
# (seconds, with their pytest plugins): the unit tier neither collects it nor loads them.
test-fast-python: $(STAMP) ## The unit tier of the chat API, the shared package and the tools
	$(PY) -m pytest -q -m "$(FAST_TESTS)" -p no:schemathesis -p no:hypothesispytest \
	  --ignore=chat-api/tests/test_openapi_contract.py

# The local stack's own test runs `make run` whole, so it needs what `make run` needs.
test-python: $(STAMP) $(RUN_DEPS) ## pytest for the chat API and the local stack
	$(PY) -m pytest

lint: $(STAMP) ## ruff, hadolint
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/hadolint Dockerfile

format: $(STAMP) ## Apply ruff's formatting and safe fixes
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP) system-deps ## Benchmark the chat API under Gunicorn (prints figures)
	$(PY) -m bench --compare-workers --record scripts/bench/results.json

scaling: $(STAMP) ## The chat API's auto-scaling derived from the benchmark's figures (the arithmetic)
	$(PY) scripts/scaling.py

token: $(STAMP) ## Print an access token of the running local stack's demo user
	@$(PY) -m local_stack.demo_token $(if $(EMAIL),--email '$(EMAIL)') $(if $(PASSWORD),--password '$(PASSWORD)')

emotion-predict: $(STAMP) ## Text lines on stdin -> one JSON line of emotion per line on stdout
	@$(PY) -m chat_api.emotion

feedback-schema: $(STAMP) ## Regenerate the feedback queue message's JSON Schema
	$(PY) -m chat_api.feedback_message

lock: ## Re-pin the Python requirements from the *.in files
	$(PY) -m piptools compile -q --strip-extras --no-emit-index-url --no-emit-find-links chat-api/requirements.in -o chat-api/requirements.txt
	$(PY) -m piptools compile -q --strip-extras --no-emit-index-url --no-emit-find-links requirements-dev.in -o requirements-dev.txt

system-deps: ## Debian packages some targets use (wrk for the benchmark); needs root
	@if command -v wrk >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null; \
	else echo "wrk is missing: run 'sudo apt-get install wrk' (the benchmark needs it)"; exit 1; fi

clean: ## Remove the virtual environment and local state
	rm -rf $(VENV) .local
