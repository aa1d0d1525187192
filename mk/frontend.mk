# The Reflex web app (frontend/): its own venv, bun from the npm registry, Debian's chromium for
# the browser tests.
FRONTEND_VENV := .venvs/frontend
FRONTEND_PY := $(FRONTEND_VENV)/bin/python
FRONTEND_STAMP := $(FRONTEND_VENV)/.installed
FRONTEND_REQUIREMENTS := frontend/requirements.txt frontend/requirements-test.txt
FRONTEND_BUN := frontend/bun/node_modules/@oven/bun-linux-x64/bin/bun
FRONTEND_ENV := REFLEX_BUN_PATH=$(CURDIR)/$(FRONTEND_BUN) REFLEX_TELEMETRY_ENABLED=false \
	REFLEX_CHECK_LATEST_VERSION=0
FRONTEND_EXPORT := frontend/export

TEST_TARGETS += test-frontend
TEST_FAST_TARGETS += test-fast-frontend
RUN_DEPS += $(FRONTEND_STAMP)

.PHONY: test-frontend test-fast-frontend frontend-export frontend-browser frontend-lock

$(FRONTEND_STAMP): $(FRONTEND_REQUIREMENTS) frontend/bun/package-lock.json $(COMMON)
	@command -v npm >/dev/null || { echo "npm is missing: run 'sudo apt-get install nodejs npm' (bun comes from the npm registry)"; exit 1; }
	$(call make-venv,$(FRONTEND_VENV))
	$(FRONTEND_PY) -m pip install --quiet --disable-pip-version-check -r frontend/requirements.txt -r frontend/requirements-test.txt
	npm ci --prefix frontend/bun --ignore-scripts --no-audit --no-fund --loglevel=error
	$(call install-common,$(FRONTEND_PY))
	@touch $@

frontend-browser: ## Debian's chromium and chromedriver for the browser tests (needs root)
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else echo "chromium is missing: run 'sudo apt-get install chromium chromium-driver' (the browser tests use it)"; exit 1; fi

test-frontend: $(STAMP) $(CHALICE_STAMP) $(FRONTEND_STAMP) frontend-browser ## Web app: state unit tests and browser tests in headless chromium
	cd frontend && $(FRONTEND_ENV) ../$(FRONTEND_PY) -m pytest

test-fast-frontend: $(FRONTEND_STAMP) ## The web app's unit tier (state, settings, the API client; no browser)
	cd frontend && $(FRONTEND_ENV) ../$(FRONTEND_PY) -m pytest -q -m "$(FAST_TESTS)"

frontend-export: $(FRONTEND_STAMP) ## Static frontend for Amplify in frontend/export (REFLEX_API_URL: the web-ui backend's URL)
	rm -rf $(FRONTEND_EXPORT) && mkdir -p $(FRONTEND_EXPORT)
	cd frontend && $(FRONTEND_ENV) ../$(FRONTEND_PY) -m reflex export --frontend-only --no-zip --env prod
	cp -r frontend/.web/build/client/. $(FRONTEND_EXPORT)/
	# The pages run under the policy's script-src 'self': their inline scripts become files.
	cd frontend && ../$(FRONTEND_PY) -m chatbot_web.security_headers externalize export

frontend-lock: ## Re-pin the web app's Python requirements from the *.in files
	$(PY) -m piptools compile -q --strip-extras --no-emit-index-url --no-emit-find-links frontend/requirements.in -o frontend/requirements.txt
	$(PY) -m piptools compile -q --strip-extras --no-emit-index-url --no-emit-find-links frontend/requirements-test.in -o frontend/requirements-test.txt
