# The CDK app in cdk/: its own venv (aws-cdk-lib, cdk-nag 3, cfn-lint, checkov, chalice).
CDK_VENV := .venvs/cdk
CDK_PY := $(CDK_VENV)/bin/python
CDK_STAMP := $(CDK_VENV)/.installed
CDK_OUT := cdk/cdk.out
ENV ?= dev
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
# Copilot's offline renderer (mk/copilot.mk, read after this file): the nag report and the
# tests review the templates it renders.
CDK_COPILOT_STAMP := .venvs/copilot/.installed

TEST_TARGETS += test-cdk

.PHONY: synth nag-report test-cdk cdk-lock

$(CDK_STAMP): cdk/requirements.txt
	@command -v node >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get update -qq && apt-get install -y -qq nodejs >/dev/null; \
	  else echo "Node.js is missing (the CDK runs on it): run 'sudo apt-get install nodejs'"; exit 1; fi; }
	$(call make-venv,$(CDK_VENV))
	$(CDK_PY) -m pip install --quiet --disable-pip-version-check -r cdk/requirements.txt
	@touch $@

synth: $(CDK_STAMP) ## Synthesise ENV=dev|staging|prod into cdk/cdk.out with the cdk-nag gate
	cd cdk && CHATBOT_ENV=$(ENV) ../$(CDK_PY) app.py

# The report covers what is deployed: the CDK stacks and Copilot's rendered templates (the
# AwsSolutions gate on both), then NIST 800-53 rev 5 counted per rule (reported, not gating).
nag-report: $(CDK_STAMP) $(CDK_COPILOT_STAMP) ## Synthesise ENV, review Copilot's templates, write cdk/cdk.out/nag-report.md and .html
	cd copilot && ../$(COPILOT_PY) -m offline_render --env $(ENV) >/dev/null
	@cd cdk && CHATBOT_ENV=$(ENV) ../$(CDK_PY) app.py; status=$$?; \
	  ../$(CDK_PY) copilot_review.py --env $(ENV) || status=1; \
	  ../$(CDK_PY) copilot_review.py --env $(ENV) --nist --cdk-env $(ENV) 2>/dev/null; \
	  ../$(CDK_PY) nag_report.py cdk.out && exit $$status

test-cdk: $(CDK_STAMP) $(CDK_COPILOT_STAMP) ## CDK assertions, the nag gate (CDK stacks and Copilot's rendered templates), cfn-lint/checkov
	cd cdk && ../$(CDK_PY) -m pytest

cdk-lock: ## Re-pin cdk/requirements.txt from cdk/requirements.in
	$(PY) -m piptools compile -q --strip-extras --no-emit-index-url --no-emit-find-links cdk/requirements.in -o cdk/requirements.txt
