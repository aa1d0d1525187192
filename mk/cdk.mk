# The CDK app in cdk/: its own venv (aws-cdk-lib, cdk-nag 3, cfn-lint, checkov, chalice).
CDK_VENV := .venvs/cdk
CDK_PY := $(CDK_VENV)/bin/python
CDK_STAMP := $(CDK_VENV)/.installed
CDK_OUT := cdk/cdk.out
ENV ?= dev
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

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

nag-report: $(CDK_STAMP) ## Synthesise ENV and write cdk/cdk.out/nag-report.md and .html
	@cd cdk && CHATBOT_ENV=$(ENV) ../$(CDK_PY) app.py; status=$$?; \
	  ../$(CDK_PY) nag_report.py cdk.out && exit $$status

test-cdk: $(CDK_STAMP) ## CDK assertions, the nag gate and cfn-lint/checkov for dev, staging, prod
	cd cdk && ../$(CDK_PY) -m pytest

cdk-lock: ## Re-pin cdk/requirements.txt from cdk/requirements.in
	$(PY) -m piptools compile -q --strip-extras --no-emit-index-url --no-emit-find-links cdk/requirements.in -o cdk/requirements.txt
