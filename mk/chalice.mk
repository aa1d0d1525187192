# The Chalice app in chalice-auth/: Cognito triggers and the feedback queue consumer.
# Its own venv, because chalice pins pip and brings its own dependency tree.
CHALICE_DIR := chalice-auth
CHALICE_VENV := .venvs/chalice
CHALICE_PY := $(CHALICE_VENV)/bin/python
CHALICE_STAMP := $(CHALICE_VENV)/.installed
CHALICE_REQUIREMENTS := $(CHALICE_DIR)/requirements.txt $(CHALICE_DIR)/requirements-dev.txt

TEST_TARGETS += test-chalice
TEST_FAST_TARGETS += test-fast-chalice
# `make run` starts the feedback ingestion runner with this venv's interpreter.
RUN_DEPS += $(CHALICE_STAMP)

.PHONY: test-chalice test-fast-chalice chalice-package feedback-redrive chalice-lock

$(CHALICE_STAMP): $(CHALICE_REQUIREMENTS) $(COMMON)
	$(call make-venv,$(CHALICE_VENV))
	$(CHALICE_PY) -m pip install --quiet --disable-pip-version-check -r $(CHALICE_DIR)/requirements-dev.txt
	$(call install-common,$(CHALICE_PY))
	@touch $@

test-chalice: $(CHALICE_STAMP) ## pytest for the Chalice app (triggers, feedback ingestion, packaging)
	@# No compiled files under chalicelib/: the packaging tests bundle that folder.
	cd $(CHALICE_DIR) && PYTHONDONTWRITEBYTECODE=1 ../$(CHALICE_PY) -m pytest

test-fast-chalice: $(CHALICE_STAMP) ## The Chalice app's unit tier (in-process moto, Chalice's test client)
	cd $(CHALICE_DIR) && PYTHONDONTWRITEBYTECODE=1 ../$(CHALICE_PY) -m pytest -q -m "$(FAST_TESTS)"

chalice-package: $(CHALICE_STAMP) ## CloudFormation (SAM) + bundle of the Chalice app in chalice-auth/out (STAGE=dev)
	cd $(CHALICE_DIR) && AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} \
	  ../$(CHALICE_PY) package.py --stage $(or $(STAGE),dev) out

# Without FEEDBACK_DLQ_URL in the environment it works on the running local stack.
feedback-redrive: $(CHALICE_STAMP) ## Inspect the feedback DLQ; MOVE=1 sends its messages back (REASON=... to choose)
	@$(CHALICE_PY) $(CHALICE_DIR)/redrive_feedback_dlq.py \
	  $(if $(FEEDBACK_DLQ_URL),,$(if $(wildcard .local/stack.env),--env-file .local/stack.env)) \
	  $(if $(MOVE),--move) $(if $(REASON),--reason $(REASON)) $(if $(LIMIT),--limit $(LIMIT))

chalice-lock: $(STAMP) ## Re-pin the Chalice app's requirements from its *.in files
	cd $(CHALICE_DIR) && ../$(PY) -m piptools compile -q --strip-extras --no-emit-index-url --no-emit-find-links requirements.in -o requirements.txt
	cd $(CHALICE_DIR) && ../$(PY) -m piptools compile -q --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links requirements-dev.in -o requirements-dev.txt

# The local stack's own tests start `make run`'s processes, the feedback runner among them.
test-python: $(CHALICE_STAMP)
