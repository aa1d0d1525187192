# Operations: load tests (Locust), the recovery drill and the monthly cost of an environment.
# Locust has its own venv: it brings its own gevent, geventhttpclient and pyzmq pins, kept apart
# from the chat API's.
LOAD_VENV := .venvs/load
LOAD_PY := $(LOAD_VENV)/bin/python
LOAD_STAMP := $(LOAD_VENV)/.installed
TARGET ?= local
USERS ?=
DURATION ?=

.PHONY: load-test dr-drill cost load-lock

$(LOAD_STAMP): scripts/load/requirements.txt $(COMMON)
	$(call make-venv,$(LOAD_VENV))
	$(LOAD_PY) -m pip install --quiet --disable-pip-version-check -r scripts/load/requirements.txt
	$(call install-common,$(LOAD_PY))
	@touch $@

# The test of the load run (scripts/tests/test_load_run.py) drives Locust from this venv.
test-python: $(LOAD_STAMP)

load-test: $(STAMP) $(LOAD_STAMP) ## Locust journeys: TARGET=local (make run's stack, else its own) or https://api.<domain> [USERS= DURATION=]; report in .local/load/
	$(PY) -m load.run --target '$(TARGET)' $(if $(USERS),--users $(USERS)) $(if $(DURATION),--duration $(DURATION))

dr-drill: $(STAMP) ## Point-in-time restore of the conversations table on a local stack, checked, then served by the chat API
	$(PY) -m dr_drill

cost: $(STAMP) ## Monthly cost of ENV=dev|staging|prod from the manifests, cdk.json and scripts/cost/prices-*.json
	@$(PY) -m cost $(ENV)

load-lock: $(STAMP) ## Re-pin scripts/load/requirements.txt from scripts/load/requirements.in
	$(PY) -m piptools compile -q --strip-extras --no-emit-index-url --no-emit-find-links scripts/load/requirements.in -o scripts/load/requirements.txt
