# The Chalice app in lambdas/: Cognito triggers and the feedback queue consumer.
# Its own venv, because chalice pins pip and brings its own dependency tree.
LAMBDAS_DIR := lambdas
LAMBDAS_VENV := .venvs/lambdas
LAMBDAS_PY := $(LAMBDAS_VENV)/bin/python
LAMBDAS_STAMP := $(LAMBDAS_VENV)/.installed
LAMBDAS_REQUIREMENTS := $(LAMBDAS_DIR)/requirements.txt $(LAMBDAS_DIR)/requirements-dev.txt

TEST_TARGETS += test-lambdas
# `make run` starts the feedback ingestion runner with this venv's interpreter.
RUN_DEPS += $(LAMBDAS_STAMP)

.PHONY: test-lambdas lambdas-package feedback-redrive lambdas-lock

$(LAMBDAS_STAMP): $(LAMBDAS_REQUIREMENTS)
	$(call make-venv,$(LAMBDAS_VENV))
	$(LAMBDAS_PY) -m pip install --quiet --disable-pip-version-check -r $(LAMBDAS_DIR)/requirements-dev.txt
	@touch $@

test-lambdas: $(LAMBDAS_STAMP) ## pytest for the Chalice app (triggers, feedback ingestion, packaging)
	@# No compiled files under chalicelib/: the packaging tests bundle that folder.
	cd $(LAMBDAS_DIR) && PYTHONDONTWRITEBYTECODE=1 ../$(LAMBDAS_PY) -m pytest

lambdas-package: $(LAMBDAS_STAMP) ## CloudFormation (SAM) + bundle of the Chalice app in lambdas/out (STAGE=dev)
	cd $(LAMBDAS_DIR) && AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} \
	  ../$(LAMBDAS_PY) package.py --stage $(or $(STAGE),dev) out

# Without FEEDBACK_DLQ_URL in the environment it works on the running local stack.
feedback-redrive: $(LAMBDAS_STAMP) ## Inspect the feedback DLQ; MOVE=1 sends its messages back (REASON=... to choose)
	@$(LAMBDAS_PY) $(LAMBDAS_DIR)/redrive_feedback_dlq.py \
	  $(if $(FEEDBACK_DLQ_URL),,$(if $(wildcard .local/stack.env),--env-file .local/stack.env)) \
	  $(if $(MOVE),--move) $(if $(REASON),--reason $(REASON)) $(if $(LIMIT),--limit $(LIMIT))

lambdas-lock: $(STAMP) ## Re-pin the Chalice app's requirements from its *.in files
	cd $(LAMBDAS_DIR) && ../$(PY) -m piptools compile -q --strip-extras --no-emit-index-url --no-emit-find-links requirements.in -o requirements.txt
	cd $(LAMBDAS_DIR) && ../$(PY) -m piptools compile -q --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links requirements-dev.in -o requirements-dev.txt

# The local stack's own tests start `make run`'s processes, the feedback runner among them.
test-python: $(LAMBDAS_STAMP)
