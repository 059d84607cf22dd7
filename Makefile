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
	$(PIP) "aws-sam-cli~=1.170" "cfn-lint~=1.58"

$(VENV)/bin/moto_server: | $(VENV)/bin/python3
	@echo "installing moto (a local Secrets Manager for the tests) into $(VENV)"
	$(PIP) "moto[server]~=5.0"

$(VENV)/bin/st: | $(VENV)/bin/python3
	@echo "installing schemathesis (the OpenAPI fuzzer of make fuzz) into $(VENV)"
	$(PIP) "schemathesis~=4.32"

.PHONY: tools
tools: $(VENV)/bin/cargo-lambda ## install cargo-lambda (into .venv) if it is missing

.PHONY: test-tools
test-tools: $(VENV)/bin/cargo-lambda $(VENV)/bin/moto_server $(VENV)/bin/st

# --- AWS -----------------------------------------------------------------------------------------
# Offline checks need a region but no credentials.
export SAM_CLI_TELEMETRY := 0
AWS_REGION_FOR_LINT := $(or $(AWS_REGION),$(AWS_DEFAULT_REGION),us-east-1)
FUNCTIONS := $(notdir $(wildcard functions/*))
LAMBDA_DIR := $(or $(CARGO_TARGET_DIR),target)/lambda

.PHONY: lint
lint: $(VENV)/bin/sam $(VENV)/bin/cfn-lint ## check template.yaml: cfn-lint and sam validate --lint
	AWS_DEFAULT_REGION=$(AWS_REGION_FOR_LINT) cfn-lint template.yaml
	AWS_DEFAULT_REGION=$(AWS_REGION_FOR_LINT) sam validate --lint

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
serve: tools ## serve the API on 127.0.0.1:$PORT (default 9000) under cargo lambda watch
	@./scripts/ensure-secret
	@$(CLI) migrate
	@if $(WITH_ENV) bash -c '[ -n "$${ADMIN_CELLNUMBER:-}" ] && [ -n "$${ADMIN_PASSWORD:-}" ]'; then \
	  $(CLI) bootstrap-admin || echo "no admin change (see above); serving anyway"; \
	else \
	  echo "ADMIN_CELLNUMBER/ADMIN_PASSWORD not set: no admin bootstrapped (see README)"; \
	fi
	@$(WITH_ENV) bash -c 'echo "serving on http://127.0.0.1:$$PORT (Ctrl-C stops)"; \
	  LOG_FORMAT="$${LOG_FORMAT:-text}" exec $(CARGO) lambda watch -A 127.0.0.1 -P "$$PORT"'

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

.PHONY: test
test: test-tools test-db check-style lint ## every test: fmt, clippy, unit, handler and HTTP tests on a real MariaDB, and make fuzz
	@run_id="$$(date +%s)_$$$$"; log="$$(mktemp)"; status=0; fuzz=0; \
	TEST_RUN_ID="$$run_id" $(CARGO) test --workspace --all-targets 2>&1 | tee "$$log" || status=$$?; \
	TEST_RUN_ID="$$run_id" $(FUZZ) 2>&1 | tee -a "$$log" || { fuzz=1; status=1; }; \
	$(CARGO) run --quiet -p users-cli -- drop-test-databases "$(TEST_DATABASE_URL)" "ut_$$run_id"; \
	awk -v fuzz=$$fuzz '/^test result:/ { for (i = 1; i <= NF; i++) { if ($$(i+1) ~ /^passed/) p += $$i; if ($$(i+1) ~ /^failed/) f += $$i } } \
	     /^fuzz: [0-9]+ cases/ { summary = $$0 } \
	     END { if (fuzz) f++; else p++; if (summary == "") summary = "fuzz: stopped early (see above)"; \
	           printf "\n%s\ntests: %d passed, %d failed\n", summary, p, f }' "$$log"; \
	rm -f "$$log"; exit $$status

.PHONY: fuzz
fuzz: test-tools test-db ## fuzz the served API against its OpenAPI document (schemathesis), as an admin and a user
	@$(FUZZ)

# --- one function at a time --------------------------------------------------------------------
.PHONY: invoke
invoke: tools ## send events/$(FN).json to FN under a running `make serve` (TOKEN=... fills its bearer token)
	@test -n "$(FN)" || { echo "usage: make invoke FN=<function> [TOKEN=<token>]; functions: $$(ls events | sed 's/\.json$$//' | tr '\n' ' ')"; exit 2; }
	@test -f "events/$(FN).json" || { echo "no event events/$(FN).json"; exit 2; }
	@event="$$(mktemp)"; trap 'rm -f "$$event"' EXIT; \
	sed "s/REPLACE_WITH_A_TOKEN_FROM_LOGIN/$${TOKEN:-REPLACE_WITH_A_TOKEN_FROM_LOGIN}/" "events/$(FN).json" > "$$event"; \
	$(WITH_ENV) bash -c 'cargo lambda invoke "$$0" --invoke-address 127.0.0.1 --invoke-port "$$PORT" --data-file "$$1"' "$(FN)" "$$event"; echo

# --- performance -------------------------------------------------------------------------------
.PHONY: bench
bench: tools build ## measure cold starts, latency, round trips, memory, sizes, bcrypt; writes bench/results.md
	@command -v wrk >/dev/null || { echo "installing wrk (Debian package)"; \
	  (apt-get update -qq && apt-get install -y -qq wrk >/dev/null) || echo "could not install wrk: the HTTP part is skipped"; }
	$(CARGO) build --release --quiet $(addprefix -p ,$(FUNCTIONS)) -p users-bench
	$(or $(CARGO_TARGET_DIR),target)/release/users-bench
