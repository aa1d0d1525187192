# The Reflex web app (web-ui/): its own venv, bun from the npm registry, Debian's chromium for
# the browser tests.
WEB_UI_VENV := .venvs/web-ui
WEB_UI_PY := $(WEB_UI_VENV)/bin/python
WEB_UI_STAMP := $(WEB_UI_VENV)/.installed
WEB_UI_REQUIREMENTS := web-ui/requirements.txt web-ui/requirements-test.txt
WEB_UI_BUN := web-ui/bun/node_modules/@oven/bun-linux-x64/bin/bun
WEB_UI_ENV := REFLEX_BUN_PATH=$(CURDIR)/$(WEB_UI_BUN) REFLEX_TELEMETRY_ENABLED=false \
	REFLEX_CHECK_LATEST_VERSION=0
WEB_UI_EXPORT := web-ui/export

TEST_TARGETS += test-web-ui
RUN_DEPS += $(WEB_UI_STAMP)

.PHONY: test-web-ui web-ui-export web-ui-browser web-ui-lock

$(WEB_UI_STAMP): $(WEB_UI_REQUIREMENTS) web-ui/bun/package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: run 'sudo apt-get install nodejs npm' (bun comes from the npm registry)"; exit 1; }
	$(call make-venv,$(WEB_UI_VENV))
	$(WEB_UI_PY) -m pip install --quiet --disable-pip-version-check -r web-ui/requirements.txt -r web-ui/requirements-test.txt
	npm ci --prefix web-ui/bun --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

web-ui-browser: ## Debian's chromium and chromedriver for the browser tests (needs root)
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else echo "chromium is missing: run 'sudo apt-get install chromium chromium-driver' (the browser tests use it)"; exit 1; fi

test-web-ui: $(STAMP) $(LAMBDAS_STAMP) $(WEB_UI_STAMP) web-ui-browser ## Web app: state unit tests and browser tests in headless chromium
	cd web-ui && $(WEB_UI_ENV) ../$(WEB_UI_PY) -m pytest

web-ui-export: $(WEB_UI_STAMP) ## Static frontend for Amplify in web-ui/export (REFLEX_API_URL: the web-ui backend's URL)
	rm -rf $(WEB_UI_EXPORT) && mkdir -p $(WEB_UI_EXPORT)
	cd web-ui && $(WEB_UI_ENV) ../$(WEB_UI_PY) -m reflex export --frontend-only --no-zip --env prod
	cp -r web-ui/.web/build/client/. $(WEB_UI_EXPORT)/
	# The pages run under the policy's script-src 'self': their inline scripts become files.
	cd web-ui && ../$(WEB_UI_PY) -m web_ui.security_headers externalize export

web-ui-lock: ## Re-pin the web app's Python requirements from the *.in files
	$(PY) -m piptools compile -q --strip-extras --no-emit-index-url --no-emit-find-links web-ui/requirements.in -o web-ui/requirements.txt
	$(PY) -m piptools compile -q --strip-extras --no-emit-index-url --no-emit-find-links web-ui/requirements-test.in -o web-ui/requirements-test.txt
