# User management API on AWS Lambda. The two commands that matter:
#   make serve   run every function locally behind the API's real paths (cargo lambda watch)
#   make test    every test, against the MariaDB/MySQL at TEST_DATABASE_URL
SHELL := /bin/bash
.DEFAULT_GOAL := help
.SHELLFLAGS := -eu -o pipefail -c

VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
CARGO ?= cargo
TEST_DATABASE_URL ?= mysql://root@127.0.0.1:3306
export TEST_DATABASE_URL
WITH_ENV := ./scripts/with-env
CLI := $(WITH_ENV) $(CARGO) run --quiet -p users-cli --

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s "$$(printf '\t')"

# --- tools -------------------------------------------------------------------------------------
$(VENV)/bin/python3:
	python3 -m venv $(VENV)

PIP := $(VENV)/bin/pip install --quiet --disable-pip-version-check

$(VENV)/bin/cargo-lambda: | $(VENV)/bin/python3
	@echo "installing cargo-lambda into $(VENV)"
	$(PIP) "cargo-lambda~=1.9"

$(VENV)/bin/sam $(VENV)/bin/cfn-lint: | $(VENV)/bin/python3
	@echo "installing aws-sam-cli and cfn-lint into $(VENV)"
	@# Exactly the SAM that scripts/sam-host-network patches.
	$(PIP) "aws-sam-cli==1.170.0" "cfn-lint~=1.58"

$(VENV)/bin/moto_server: | $(VENV)/bin/python3
	@echo "installing moto (a local Secrets Manager for the tests) into $(VENV)"
	$(PIP) "moto[server]~=5.0"

# pyotp computes RFC 6238 codes the way authenticator apps do, for the second factor's test over
# HTTP (tests/tests/served_second_factor.rs); it has no command, so a stamp marks it installed.
PYOTP := $(VENV)/.pyotp-installed
$(PYOTP): | $(VENV)/bin/python3
	@echo "installing pyotp (TOTP codes for the second factor's test over HTTP) into $(VENV)"
	$(PIP) "pyotp~=2.9"

# PyJWT, the third-party verifier of the access tokens in the tests (tests/jwks/verify.py).
$(VENV)/.pyjwt: | $(VENV)/bin/python3
	@echo "installing PyJWT (a third-party verifier of the access tokens) into $(VENV)"
	$(PIP) "pyjwt[crypto]~=2.10"
	@touch $@

$(VENV)/bin/st: | $(VENV)/bin/python3
	@echo "installing schemathesis (the OpenAPI fuzzer of make fuzz) into $(VENV)"
	$(PIP) "schemathesis~=4.32"

$(VENV)/bin/openapi-python-client: | $(VENV)/bin/python3
	@echo "installing openapi-python-client (the generated client of make client-test) into $(VENV)"
	$(PIP) "openapi-python-client~=0.29.1"

# Redocly's linter, @hey-api/openapi-ts and tsc, at the versions package-lock.json pins (node 20);
# node_modules is not committed. npm ci stamps node_modules/.package-lock.json.
CLIENT_DIR := tests/openapi-client
NODE_TOOLS := $(CLIENT_DIR)/node_modules/.package-lock.json
$(NODE_TOOLS): $(CLIENT_DIR)/package.json $(CLIENT_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "npm (node 20 or newer) is needed for the OpenAPI linter and the TypeScript client"; exit 1; }
	@echo "installing Redocly CLI, @hey-api/openapi-ts and typescript into $(CLIENT_DIR)/node_modules"
	npm ci --prefix $(CLIENT_DIR) --no-audit --no-fund --loglevel=error
	@touch $@
# Neither tool may reach beyond loopback: no usage reports, no update checks.
export REDOCLY_TELEMETRY := off
export REDOCLY_SUPPRESS_UPDATE_NOTICE := true

.PHONY: tools
tools: $(VENV)/bin/cargo-lambda ## install cargo-lambda (into .venv) if it is missing

# The docs and console page tests drive headless Chromium (Debian's packages, offline): the
# console's through WebDriver, with Debian's chromedriver and Selenium (which then downloads
# nothing).
.PHONY: browser
browser: $(VENV)/.selenium
	@{ command -v chromium && command -v chromedriver; } >/dev/null || { echo "installing chromium and chromium-driver (Debian packages) for the page tests"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; } || \
	  { echo "could not install chromium and chromium-driver: the page tests will fail (apt-get install them as root)"; exit 1; }; }

$(VENV)/.selenium: | $(VENV)/bin/python3
	@echo "installing selenium (drives chromium in the console test) into $(VENV)"
	@# 4.52 and newer want a certifi the registry may lack; 4.51 drives Debian's chromedriver.
	$(PIP) "selenium==4.51.*"
	@touch $@

.PHONY: test-tools
test-tools: $(VENV)/bin/cargo-lambda $(VENV)/bin/moto_server $(PYOTP) $(VENV)/.pyjwt $(VENV)/bin/st $(VENV)/bin/openapi-python-client $(NODE_TOOLS) browser

# --- AWS -----------------------------------------------------------------------------------------
# Offline checks need a region but no credentials.
export SAM_CLI_TELEMETRY := 0
AWS_REGION_FOR_LINT := $(or $(AWS_REGION),$(AWS_DEFAULT_REGION),us-east-1)
FUNCTIONS := $(notdir $(wildcard functions/*))
LAMBDA_DIR := $(or $(CARGO_TARGET_DIR),target)/lambda

.PHONY: lint
lint: $(VENV)/bin/sam $(VENV)/bin/cfn-lint lint-openapi ## check template.yaml (cfn-lint, sam validate --lint, the fallback route, CORS, the JWT authorizer), the OpenAPI document and the direction of shared/src's module dependencies
	AWS_DEFAULT_REGION=$(AWS_REGION_FOR_LINT) cfn-lint template.yaml
	AWS_DEFAULT_REGION=$(AWS_REGION_FOR_LINT) sam validate --lint
	AWS_DEFAULT_REGION=$(AWS_REGION_FOR_LINT) $(VENV)/bin/python3 scripts/check-template template.yaml
	scripts/watch-router --check
	scripts/module-deps

.PHONY: routes
routes: ## write the router of make serve (Cargo.toml) from the routes of template.yaml
	scripts/watch-router

# The document exactly as GET /api/openapi.json serves it (users-cli openapi), under Redocly's
# recommended rules: any error or warning fails but the one scripts/openapi-lint-verdict explains.
.PHONY: lint-openapi
lint-openapi: $(NODE_TOOLS) ## Redocly's recommended rules on the OpenAPI document the API serves
	@document="$$(mktemp --suffix=.json)"; trap 'rm -f "$$document"' EXIT; \
	$(CARGO) run --quiet -p users-cli -- openapi > "$$document"; \
	$(CLIENT_DIR)/node_modules/.bin/redocly lint --extends recommended --max-problems 50 --format stylish "$$document" 2>&1 | grep -v '[║╔╚]'; \
	$(CLIENT_DIR)/node_modules/.bin/redocly lint --extends recommended --format json "$$document" 2>/dev/null | \
	  $(VENV)/bin/python3 scripts/openapi-lint-verdict || \
	  { echo "lint-openapi: the document has errors or warnings (above)"; exit 1; }

.PHONY: build
build: tools ## release arm64 zip of every function under target/lambda/<function>/bootstrap.zip
	rustup target add aarch64-unknown-linux-gnu
	rm -rf $(LAMBDA_DIR)
	$(CARGO) lambda build --release --arm64 --output-format zip $(addprefix -p ,$(FUNCTIONS))
	@for f in $(FUNCTIONS); do printf '%-16s %s bytes\n' "$$f" "$$(stat -c %s $(LAMBDA_DIR)/$$f/bootstrap.zip)"; done

.PHONY: deploy
deploy: tools $(VENV)/bin/sam ## sam build + sam deploy (--guided the first time)
	rustup target add aarch64-unknown-linux-gnu
	sam build
	@if grep -q '^parameter_overrides' samconfig.toml; then sam deploy; else sam deploy --guided; fi

# --- database ----------------------------------------------------------------------------------
.PHONY: migrate
migrate: ## create the database in DATABASE_URL if missing and apply migrations
	@$(CLI) migrate

.PHONY: admin
admin: ## migrate, then create or reset the admin ADMIN_CELLNUMBER with ADMIN_PASSWORD
	@$(CLI) bootstrap-admin

# --- local API ---------------------------------------------------------------------------------
.PHONY: serve
serve: tools ## serve the API on 127.0.0.1:$PORT (default 9000) under cargo lambda watch, CONCURRENCY instances per function (default 4)
	@./scripts/ensure-secret
	@./scripts/ensure-mfa-keys
	@$(CLI) migrate
	@if $(WITH_ENV) bash -c '[ -n "$${ADMIN_CELLNUMBER:-}" ] && [ -n "$${ADMIN_PASSWORD:-}" ]'; then \
	  $(CLI) bootstrap-admin || echo "no admin change (see above); serving anyway"; \
	else \
	  echo "ADMIN_CELLNUMBER/ADMIN_PASSWORD not set: no admin bootstrapped (see README)"; \
	fi
	@$(WITH_ENV) bash -c 'echo "serving on http://127.0.0.1:$$PORT, $$CONCURRENCY instances per function (Ctrl-C stops)"; \
	  export TOKEN_ISSUER="$${TOKEN_ISSUER:-http://127.0.0.1:$$PORT}"; \
	  export SMS_OUTBOX="$${SMS_OUTBOX:-$(CURDIR)/target/sms-outbox.jsonl}"; \
	  LOG_FORMAT="$${LOG_FORMAT:-text}" exec $(CARGO) lambda watch -A 127.0.0.1 -P "$$PORT" --concurrency "$$CONCURRENCY"'

# --- checks ------------------------------------------------------------------------------------
.PHONY: fmt
fmt: ## format the code
	$(CARGO) fmt --all

.PHONY: check-style
check-style:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --quiet -- -D warnings

.PHONY: test-db
test-db:
	@$(CARGO) run --quiet -p users-cli -- ping "$(TEST_DATABASE_URL)"

# schemathesis against the served API (tests/fuzz/run.py); make test runs it after cargo test and
# counts it as one test.
FUZZ := $(VENV)/bin/python3 tests/fuzz/run.py
# Clients generated from the served document (tests/openapi-client/run.py): a full session
# through the Python one, the TypeScript one type-checked; make test counts it as one test.
CLIENT_TEST := $(VENV)/bin/python3 $(CLIENT_DIR)/run.py

.PHONY: test
test: test-tools test-db check-style lint ## every test: fmt, clippy, unit, handler and HTTP tests on a real MariaDB (direct mode, then again with DB_PROXY=on), make fuzz (proxy mode), make client-test and make sam-test
	@run_id="$$(date +%s)_$$$$"; log="$$(mktemp)"; status=0; fuzz=0; client=0; sam=0; \
	TEST_RUN_ID="$$run_id" $(CARGO) test --workspace --all-targets --no-fail-fast 2>&1 | tee "$$log" || status=$$?; \
	echo "--- the handler and HTTP tests again in proxy mode (DB_PROXY=on: text statements, no session state)"; \
	TEST_RUN_ID="$$run_id" DB_PROXY=on $(CARGO) test -p api-tests --tests --no-fail-fast 2>&1 | tee -a "$$log" || status=1; \
	TEST_RUN_ID="$$run_id" DB_PROXY=on $(FUZZ) 2>&1 | tee -a "$$log" || { fuzz=1; status=1; }; \
	TEST_RUN_ID="$$run_id" $(CLIENT_TEST) 2>&1 | tee -a "$$log" || { client=1; status=1; }; \
	TEST_RUN_ID="$$run_id" $(MAKE) --no-print-directory sam-test 2>&1 | tee -a "$$log" || { sam=1; status=1; }; \
	$(CARGO) run --quiet -p users-cli -- drop-test-databases "$(TEST_DATABASE_URL)" "ut_$$run_id"; \
	awk -v fuzz=$$fuzz -v client=$$client -v sam=$$sam '/^test result:/ { for (i = 1; i <= NF; i++) { if ($$(i+1) ~ /^passed/) p += $$i; if ($$(i+1) ~ /^failed/) f += $$i } } \
	     /^fuzz: [0-9]+ cases/ { summary = $$0 } \
	     END { if (fuzz) f++; else p++; if (client) f++; else p++; if (sam) f++; if (summary == "") summary = "fuzz: stopped early (see above)"; \
	           printf "\n%s\ntests: %d passed, %d failed\n", summary, p, f }' "$$log"; \
	rm -f "$$log"; exit $$status

.PHONY: unit
unit: ## the rules alone, with no database: unit tests of shared, the functions and the CLI
	@# A closed port: a unit test that reached for a database would fail, not pass by luck.
	TEST_DATABASE_URL=mysql://root@127.0.0.1:9 $(CARGO) test --workspace --lib --bins --exclude api-tests

.PHONY: test-quick
test-quick: $(VENV)/bin/cargo-lambda $(VENV)/bin/moto_server $(PYOTP) test-db ## every workspace test against MariaDB in direct mode: no fuzzing, SAM, Chromium or proxy-mode pass
	@run_id="$$(date +%s)_$$$$"; status=0; \
	TEST_RUN_ID="$$run_id" $(CARGO) test --workspace --all-targets -- --skip chromium || status=$$?; \
	$(CARGO) run --quiet -p users-cli -- drop-test-databases "$(TEST_DATABASE_URL)" "ut_$$run_id"; exit $$status

.PHONY: client-test
client-test: $(VENV)/bin/cargo-lambda $(VENV)/bin/openapi-python-client $(PYOTP) $(NODE_TOOLS) test-db ## generate a Python and a TypeScript client from the served OpenAPI document and run a session through them
	@$(CLIENT_TEST)

.PHONY: fuzz
fuzz: test-tools test-db ## fuzz the served API against its OpenAPI document (schemathesis), as an admin and a user
	@$(FUZZ)

# --- SAM local ---------------------------------------------------------------------------------
# `sam local` over template.yaml, offline and on loopback only (see docs/sam-local.md):
# the functions built on this machine (debug) for its architecture, a Docker engine without any
# bridge (scripts/sam-engine), a stand-in base image (scripts/sam-image), containers on the host's
# network (scripts/sam-host-network), all driven by scripts/sam-local.
SAM_PORT ?= 3000
SAM_ARCH ?= $(if $(filter aarch64 arm64,$(shell uname -m)),arm64,x86_64)
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
export SAM_LOCAL_DIR := $(TARGET_DIR)/sam-local

.PHONY: sam-tools
sam-tools: $(VENV)/bin/sam

.PHONY: sam-build
sam-build: sam-tools ## build every function for sam local (host debug builds, SAM_ARCH) and the template it runs
	@SAM_DOCKERD="$${SAM_DOCKERD:-0}" scripts/sam-engine start
	@scripts/sam-image $(SAM_ARCH)
	$(CARGO) build --quiet $(addprefix -p ,$(FUNCTIONS))
	@$(VENV)/bin/python3 scripts/sam-local-template template.yaml $(SAM_LOCAL_DIR) $(TARGET_DIR)/debug $(SAM_ARCH)

# env.json's values, with the database, signing key and MFA keys of `make serve` (so tokens and
# enrolled second factors work in both).
$(SAM_LOCAL_DIR)/env.json: env.json FORCE | sam-build
	@./scripts/ensure-secret
	@./scripts/ensure-mfa-keys
	@$(WITH_ENV) python3 -c 'import json, os, sys; env = json.load(open("env.json")); \
	  env["Parameters"].update({k: os.environ[k] for k in ("DATABASE_URL", "SECRET_KEY", "BCRYPT_COST", "MFA_KEYS") if os.environ.get(k)}); \
	  json.dump(env, open(sys.argv[1], "w"), indent=2)' $@

.PHONY: FORCE
FORCE:

.PHONY: sam-api
sam-api: sam-build $(SAM_LOCAL_DIR)/env.json ## sam local start-api on 127.0.0.1:$SAM_PORT (default 3000) over template.yaml (SAM_DOCKERD=1 starts Docker)
	@$(CLI) migrate
	@if $(WITH_ENV) bash -c '[ -n "$${ADMIN_CELLNUMBER:-}" ] && [ -n "$${ADMIN_PASSWORD:-}" ]'; then \
	  $(CLI) bootstrap-admin; \
	else \
	  echo "ADMIN_CELLNUMBER/ADMIN_PASSWORD not set: no admin bootstrapped (see README)"; \
	fi
	@echo "sam local start-api on http://127.0.0.1:$(SAM_PORT) ($(SAM_ARCH), warm containers; Ctrl-C stops)"
	scripts/sam-local start-api --env-vars $(SAM_LOCAL_DIR)/env.json --warm-containers EAGER \
	  --host 127.0.0.1 --port $(SAM_PORT)

.PHONY: sam-invoke
sam-invoke: sam-build $(SAM_LOCAL_DIR)/env.json ## sam local invoke of FN with events/$(FN).json (TOKEN=, REFRESH=, SESSION= fill in the event)
	@test -n "$(FN)" || { echo "usage: make sam-invoke FN=<function> [TOKEN=<token>] [REFRESH=<refresh token>] [SESSION=<session id>]; functions: $$(ls events | sed 's/\.json$$//' | tr '\n' ' ')"; exit 2; }
	@test -f "events/$(FN).json" || { echo "no event events/$(FN).json"; exit 2; }
	@event="$$(mktemp)"; trap 'rm -f "$$event"' EXIT; \
	TOKEN="$(TOKEN)" REFRESH="$(REFRESH)" SESSION="$(SESSION)" scripts/fill-event "$(FN)" > "$$event"; \
	resource="$$(awk -v fn="$(FN)" '/^  [A-Za-z0-9]+:$$/ { id = $$1 } $$1 == "Binary:" && $$2 == fn { sub(":", "", id); print id }' template.yaml)"; \
	scripts/sam-local invoke "$$resource" --env-vars $(SAM_LOCAL_DIR)/env.json --event "$$event"

# The SAM test (tests/tests/sam_local.rs): start-api over every route, and sam local invoke of
# every event, on a database of its own. It starts the loopback-only engine when none answers,
# and stops it afterwards.
.PHONY: sam-test
sam-test: export SAM_DOCKERD ?= 1
sam-test: sam-build test-db ## the SAM local test: every route through start-api, every event through invoke
	@status=0; TEST_RUN_ID="$${TEST_RUN_ID:-$$(date +%s)_$$$$}" $(CARGO) test --quiet -p api-tests --test sam_local -- --ignored --nocapture || status=$$?; \
	scripts/sam-engine stop; exit $$status

# --- one function at a time --------------------------------------------------------------------
.PHONY: invoke
invoke: tools ## send events/$(FN).json to FN under a running `make serve` (TOKEN=, REFRESH=, SESSION= fill in the event)
	@test -n "$(FN)" || { echo "usage: make invoke FN=<function> [TOKEN=<token>] [REFRESH=<refresh token>] [SESSION=<session id>]; functions: $$(ls events | sed 's/\.json$$//' | tr '\n' ' ')"; exit 2; }
	@test -f "events/$(FN).json" || { echo "no event events/$(FN).json"; exit 2; }
	@event="$$(mktemp)"; trap 'rm -f "$$event"' EXIT; \
	TOKEN="$(TOKEN)" REFRESH="$(REFRESH)" SESSION="$(SESSION)" scripts/fill-event "$(FN)" > "$$event"; \
	$(WITH_ENV) bash -c 'cargo lambda invoke "$$0" --invoke-address 127.0.0.1 --invoke-port "$$PORT" --data-file "$$1"' "$(FN)" "$$event"; echo

# --- performance -------------------------------------------------------------------------------
.PHONY: bench
bench: tools build ## measure cold starts, latency, round trips, memory, sizes, bcrypt; writes bench/results.md
	@command -v wrk >/dev/null || { echo "installing wrk (Debian package)"; \
	  (apt-get update -qq && apt-get install -y -qq wrk >/dev/null) || echo "could not install wrk: the HTTP part is skipped"; }
	$(CARGO) build --release --quiet $(addprefix -p ,$(FUNCTIONS)) -p users-bench
	$(or $(CARGO_TARGET_DIR),target)/release/users-bench
