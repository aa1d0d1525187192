# GitHub Actions: workflow lint in `make test`; the dependency audit CI runs (it needs the
# vulnerability databases on the internet, which the local machines do not reach).

TEST_TARGETS += lint-github
AUDIT_IGNORE := .audit-ignore

.PHONY: lint-github audit

lint-github: $(STAMP) ## yamllint and actionlint on .github/
	$(VENV)/bin/yamllint -c .yamllint.yml --strict .github .yamllint.yml
	$(VENV)/bin/actionlint .github/workflows/*.yml

audit: $(STAMP) ## pip-audit and npm audit on every lock file, minus the exceptions in .audit-ignore
	@ignores=$$(grep -oE '^[A-Z]+-[A-Za-z0-9-]+' $(AUDIT_IGNORE) | sed 's/^/--ignore-vuln /'); \
	for req in $$(git ls-files '*requirements*.txt'); do \
	  echo "pip-audit $$req"; $(VENV)/bin/pip-audit --progress-spinner off --strict $$ignores -r $$req || exit 1; \
	done; \
	for lock in $$(git ls-files '*package-lock.json'); do \
	  echo "npm audit $$lock"; (cd $$(dirname $$lock) && npm audit --audit-level=high --omit=dev) || exit 1; \
	done
