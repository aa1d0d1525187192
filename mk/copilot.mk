# The Copilot deployment in copilot/: manifests proven offline with the real Copilot CLI against
# moto's HTTPS proxy, and the deploy of one environment in the order of docs/architecture.md.
# Its own venv: checkov pins its own boto3 and packaging, which conflict with the root venv's.
COPILOT_VENV := .venvs/copilot
COPILOT_PY := $(COPILOT_VENV)/bin/python
COPILOT_STAMP := $(COPILOT_VENV)/.installed
DEPLOY_ENVS := dev staging prod

TEST_TARGETS += test-copilot

.PHONY: copilot-package test-copilot compose-validator deploy deploy-plan rollback copilot-lock

$(COPILOT_STAMP): copilot/requirements.txt $(COMMON)
	$(call make-venv,$(COPILOT_VENV))
	$(COPILOT_PY) -m pip install --quiet --disable-pip-version-check -r copilot/requirements.txt
	$(call install-common,$(COPILOT_PY))
	@touch $@

copilot-package: $(COPILOT_STAMP) ## Check the manifests, then render every Copilot environment and service template offline into copilot/build/
	cd copilot && ../$(COPILOT_PY) -m copilot_checks

test-copilot: $(COPILOT_STAMP) $(CDK_NODE) compose-validator ## Offline rendering, cfn-lint/checkov, manifest schema, cross-checks, deploy plan, docker-compose.yml
	cd copilot && $(CDK_NODE_ENV) ../$(COPILOT_PY) -m pytest

# Debian's docker-compose (1.29) parses and validates docker-compose.yml without a Docker engine.
compose-validator:
	@if command -v docker-compose >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get update -qq && apt-get install -y -qq docker-compose >/dev/null; \
	else echo "docker-compose is missing: run 'sudo apt-get install docker-compose' (it validates docker-compose.yml)"; exit 1; fi

# Deploying names its environment: a default (ENV ?= dev elsewhere) is not enough.
define require_env
	@case "$(origin ENV) $(ENV)" in "command line "*|"environment "*) ;; *) echo "Name the environment: make $@ ENV=dev|staging|prod"; exit 2;; esac
	@case " $(DEPLOY_ENVS) " in *" $(ENV) "*) ;; *) echo "ENV=$(ENV) is not one of: $(DEPLOY_ENVS)"; exit 2;; esac
endef

# The deploy checks the manifests against the schemas before any step, runs Copilot from its
# venv and the CDK CLI on the CDK's Node (mk/cdk.mk).
deploy: $(STAMP) $(COPILOT_STAMP) $(CDK_STAMP) $(CDK_NODE) ## Deploy ENV=dev|staging|prod: CDK platform, Copilot env + services, CDK edge, smoke test
	$(require_env)
	$(CDK_NODE_ENV) PATH="$(CURDIR)/$(COPILOT_VENV)/bin:$$PATH" $(PY) -m deploy deploy $(ENV)

deploy-plan: $(STAMP) ## Print every command `make deploy ENV=...` runs, in order, without calling AWS (WITHOUT_COPILOT=1: CloudFormation only)
	$(require_env)
	@$(if $(WITHOUT_COPILOT),$(MAKE) -s --no-print-directory copilot-package >/dev/null,:)
	@$(PY) -m deploy plan $(ENV) $(if $(WITHOUT_COPILOT),--without-copilot)

rollback: $(STAMP) ## Roll ENV's services back to their previous task definitions (PLAN=1 prints only)
	$(require_env)
	$(PY) -m deploy rollback $(ENV) $(if $(PLAN),--plan)

copilot-lock: $(STAMP) ## Re-pin copilot/requirements.txt from copilot/requirements.in
	cd copilot && ../$(PY) -m piptools compile -q --strip-extras --no-emit-index-url --no-emit-find-links requirements.in -o requirements.txt
