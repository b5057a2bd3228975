# JobWeaver: `make` (or `make help`) lists the targets.

GO    ?= go
FN    ?=
EVENT ?=

.DEFAULT_GOAL := help
.PHONY: help run test test-faults test-lambda test-browser screenshots dashboard bench build invoke invoke-remote fmt lint clean

help: ## list the targets
	@echo "JobWeaver make targets:"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: dashboard ## run the whole platform locally: the API and the web dashboard on http://localhost:8080 (builds the dashboard if its sources changed); settings: go run ./localstack/run --help
	$(GO) run ./localstack/run

test: node_modules/.bin/newman dashboard ## go vet, the dashboard's vitest, then every Go test with -count=1 (real Postgres, in-process Kafka broker, newman, Playwright on Chromium)
	$(GO) vet ./...
	@echo "dashboard: component tests (npm test in dashboard/: vitest)"
	cd dashboard && npm test
	@echo "Go tests; dashboard/browsertest runs the Playwright specs (dashboard/e2e) on $${CHROMIUM_PATH:-/usr/bin/chromium} against a private stack"
	$(GO) test -count=1 -timeout 30m ./...

test-browser: dashboard ## the dashboard's Playwright specs alone, against a private stack (PLAYWRIGHT_ARGS=e2e/smoke.spec.ts or --grep ...; CHROMIUM_PATH)
	$(GO) test -count=1 -v -timeout 30m ./dashboard/browsertest

screenshots: dashboard ## rewrite docs/screenshots/<view>.png from the Playwright specs (UPDATE_SCREENSHOTS=1), against a private stack
	UPDATE_SCREENSHOTS=1 $(GO) test -count=1 -v -timeout 30m ./dashboard/browsertest

# The web dashboard (dashboard/, React + Vite): npm ci installs its
# packages (no browser: Playwright runs on the machine's Chromium), npm run
# build writes dashboard/dist; each runs only when its inputs are newer
# than its output. make run serves dashboard/dist (DASHBOARD_DIR), make
# deploy uploads it.
DASHBOARD_SOURCES := $(shell find dashboard/src dashboard/public \( -type d -o -type f \) -not -name '*.test.ts' -not -name '*.test.tsx' 2>/dev/null) \
	$(wildcard dashboard/index.html dashboard/package.json dashboard/package-lock.json dashboard/vite.config.* dashboard/tsconfig*.json)
DASHBOARD_DEPS := dashboard/node_modules/.jobweaver-npm-ci

dashboard: dashboard/dist/index.html ## build the web dashboard into dashboard/dist (npm ci, npm run build) when its sources are newer than the build
	@echo "dashboard: dashboard/dist is up to date with its sources"

$(DASHBOARD_DEPS): dashboard/package.json dashboard/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "make: npm is needed to build the web dashboard: sudo apt-get install nodejs npm" >&2; exit 1; }
	@node -e 'const [a, b] = process.versions.node.split(".").map(Number); if (a < 20 || (a === 20 && b < 19)) { console.error("make: the web dashboard needs Node.js 20.19 or newer (Vite 7); this is " + process.version + ". Debian 13 has it (sudo apt-get install nodejs npm); or see https://nodejs.org"); process.exit(1) }'
	@echo "dashboard: installing its packages (npm ci in dashboard/; no browser download)"
	cd dashboard && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
	@# a go.mod makes ./... skip dashboard/node_modules.
	@printf 'module jobweaver.invalid/dashboard/node_modules\n' > dashboard/node_modules/go.mod
	@touch $@

dashboard/dist/index.html: $(DASHBOARD_SOURCES) $(DASHBOARD_DEPS)
	@echo "dashboard: building dashboard/dist (npm run build: its sources are newer than the build)"
	cd dashboard && npm run build
	@touch $@

test-faults: ## the fault suite at full scale (docs/reliability.md; make test runs it reduced), then its concurrent ticks under -race
	@rc=0; \
	FAULTS_SCALE=full $(GO) test -count=1 -v -timeout 90m ./shared/faults || rc=1; \
	FAULTS_SCALE=full $(GO) test -count=1 -race -v -timeout 30m -run '^TestConcurrentTicks$$' ./shared/faults || rc=1; \
	exit $$rc

node_modules/.bin/newman: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "make: npm is needed to run the original client collection with newman: sudo apt-get install nodejs npm" >&2; exit 1; }
	npm ci --no-audit --no-fund
	@# aws-cdk ships Go init templates; a go.mod makes ./... skip node_modules.
	@printf 'module jobweaver.invalid/node_modules\n' > node_modules/go.mod
	@touch $@

# make bench COMPARE=<git-ref> [BENCH_ROUNDS=3] [BENCH_ARGS='-scenarios latency -rate 2000']
COMPARE      ?=
BENCH_ROUNDS ?= 3
BENCH_ARGS   ?=

bench: ## run the benchmarks on a private Postgres with production settings (go run ./bench --help); COMPARE=<git-ref> alternates runs with that commit's bench and prints the ratios (BENCH_ROUNDS, BENCH_ARGS)
	$(GO) run ./bench $(if $(COMPARE),-compare '$(COMPARE)' -rounds $(BENCH_ROUNDS)) $(BENCH_ARGS)

# Lambda: provided.al2023, arm64 unless ARCH=x86_64. The flags are also
# shared/emulator.BuildFlags (the emulator tests build with the same).
ARCH      ?= arm64
FUNCTIONS := api scheduler worker dlq migrate
LAMBDA_BUILD_FLAGS := -tags lambda.norpc -trimpath -ldflags '-s -w'

build: dashboard ## build the web dashboard (dashboard/dist), and build/<fn>/bootstrap and build/<fn>.zip for Lambda provided.al2023 (ARCH=arm64, the default, or x86_64)
	@case "$(ARCH)" in \
	  arm64|aarch64) goarch=arm64 ;; \
	  x86_64|amd64) goarch=amd64 ;; \
	  *) echo "make build: ARCH must be arm64 or x86_64 (got $(ARCH))" >&2; exit 2 ;; \
	esac; \
	echo "building $(FUNCTIONS) for Lambda provided.al2023 $(ARCH) (GOARCH=$$goarch)"; \
	rm -rf build/.out && \
	CGO_ENABLED=0 GOOS=linux GOARCH=$$goarch $(GO) build $(LAMBDA_BUILD_FLAGS) -o build/.out/ $(addprefix ./functions/,$(FUNCTIONS)) && \
	for fn in $(FUNCTIONS); do mkdir -p build/$$fn && mv build/.out/$$fn build/$$fn/bootstrap || exit 1; done && \
	rmdir build/.out && \
	$(GO) run ./localstack/lambdazip $(addprefix build/,$(FUNCTIONS))

test-lambda: ## the Lambda emulator tests alone: the real bootstraps under the AWS Runtime Interface Emulator (part of make test)
	$(GO) test -count=1 -v -timeout 10m ./shared/emulator

invoke: ## run one function once on an event: make invoke FN=worker EVENT=events/worker/run-job.json
	@if [ -z "$(FN)" ] || [ -z "$(EVENT)" ]; then \
		echo "usage: make invoke FN=api|scheduler|worker|dlq EVENT=events/<function>/<event>.json" >&2; exit 2; fi
	$(GO) run ./localstack/invoke $(FN) $(EVENT)

invoke-remote: ## invoke a function once through the Lambda API, run under the Lambda emulator: make invoke-remote FN=worker EVENT=events/worker/run-job.json (ARGS=--aws: the deployed one)
	@if [ -z "$(FN)" ] || [ -z "$(EVENT)" ]; then \
		echo "usage: make invoke-remote FN=api|scheduler|worker|dlq EVENT=events/<function>/<event>.json [ARGS=--aws]" >&2; exit 2; fi
	$(GO) run ./localstack/invoke-remote $(ARGS) $(FN) $(EVENT)

# LocalStack, for machines with Docker: README.md, section "LocalStack". The
# compose profile is pro when LOCALSTACK_AUTH_TOKEN is set (LocalStack Pro,
# which has Kafka event-source mappings and API Gateway v2), else community
# (make localstack-bridge stands in for both).
LOCALSTACK_COMPOSE := docker compose -f localstack/compose.yaml
LOCALSTACK_PROFILE  = $(if $(strip $(LOCALSTACK_AUTH_TOKEN)),pro,community)
DRY_RUN ?=
.PHONY: localstack-up localstack-deploy localstack-bridge localstack-down

localstack-up: ## start LocalStack, Redpanda and Postgres in Docker (localstack/compose.yaml), pinned, and wait until healthy
	@command -v docker >/dev/null 2>&1 || { echo "make: localstack-up needs Docker with its compose plugin (docker compose)" >&2; exit 1; }
	$(LOCALSTACK_COMPOSE) --profile $(LOCALSTACK_PROFILE) up -d --wait

localstack-deploy: ## after make build: topics, databases, the four functions and the schedule on LocalStack (Pro: HTTP API, Kafka mappings); DRY_RUN=1 prints the calls only
	$(GO) run ./localstack/deploy $(if $(strip $(DRY_RUN)),--dry-run) $(ARGS)

localstack-bridge: ## what LocalStack community lacks: Kafka event-source mappings to the functions, and the API on :8090 (Ctrl-C stops)
	$(GO) run ./localstack/bridge $(ARGS)

localstack-down: ## stop the LocalStack stack and delete its data
	$(LOCALSTACK_COMPOSE) --profile community --profile pro down -v --remove-orphans

# AWS (infra/, cdk.json): the CDK CLI pinned in package.json. synth runs
# offline with no AWS credentials; diff, deploy and destroy need them (and
# deploy a bootstrapped account: npx cdk bootstrap). STAGE=dev|prod picks
# the stage of cdk.json; ALARM_EMAIL subscribes an address to the alarms;
# CDK_ARGS passes more (-c key=value, --require-approval never, ...).
STAGE       ?= dev
ALARM_EMAIL ?=
CDK_ARGS    ?=
CDK         := node_modules/.bin/cdk
CDK_ENV     := CDK_DISABLE_CLI_TELEMETRY=true CDK_DISABLE_VERSION_CHECK=true JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
CDK_FLAGS    = --no-notices -c stage=$(STAGE) -c architecture=$(if $(filter x86_64 amd64,$(ARCH)),x86_64,arm64) $(if $(strip $(ALARM_EMAIL)),-c alarmEmail=$(ALARM_EMAIL)) $(CDK_ARGS)
# The stack takes build/<fn>/ as the functions' code, migrate included.
CDK_ASSETS   = @for fn in api scheduler worker dlq migrate; do [ -x build/$$fn/bootstrap ] || { \
	echo "make: build/$$fn/bootstrap is missing: make build must build functions/$$fn for the stack" >&2; exit 1; }; done
.PHONY: synth diff deploy destroy token smoke preflight

synth: build $(CDK) ## synthesize the CloudFormation template into cdk.out/, offline (STAGE=dev|prod)
	$(CDK_ASSETS)
	$(CDK_ENV) $(CDK) synth --quiet $(CDK_FLAGS)
	@echo "cdk.out/JobWeaver-$(STAGE).template.json"

diff: build $(CDK) ## compare the stack with the deployed one (AWS credentials; STAGE=dev|prod)
	$(CDK_ASSETS)
	$(CDK_ENV) $(CDK) diff $(CDK_FLAGS)

preflight: ## read the AWS account before a deploy: Lambda concurrency, AZ IDs, MSK and RDS quotas, CDK bootstrap, names left by an earlier stack (STAGE=dev|prod; ARGS=-region ...)
	@$(GO) run ./infra/preflight -stage $(STAGE) $(ARGS)

# make deploy runs preflight first; SKIP_PREFLIGHT=1 deploys without it.
deploy: $(if $(strip $(SKIP_PREFLIGHT)),,preflight) build $(CDK) ## make preflight, then deploy the stack (AWS credentials, cdk bootstrap; STAGE=dev|prod, ALARM_EMAIL=...; SKIP_PREFLIGHT=1)
	$(CDK_ASSETS)
	$(CDK_ENV) $(CDK) deploy $(CDK_FLAGS)

destroy: build $(CDK) ## delete the stack (AWS credentials; prod keeps its database snapshot, logs and bucket)
	$(CDK_ASSETS)
	$(CDK_ENV) $(CDK) destroy $(CDK_FLAGS)

smoke: ## check a deployed stage end to end through its API: health, auth, a job to COMPLETED, a failing job into the DLQ (STAGE=dev|prod)
	@$(GO) run ./infra/smoke -stage $(STAGE) $(if $(CLIENT),-client $(CLIENT))

token: ## print an access token for a deployed stage's API: TOKEN=$(make -s token) (STAGE=dev|prod, CLIENT=operator, SCOPE=read|write)
	@$(GO) run ./infra/token -stage $(STAGE) $(if $(CLIENT),-client $(CLIENT)) $(if $(SCOPE),-scope $(SCOPE))

.PHONY: admin-key
admin-key: ## print a deployed stage's first admin API key from Secrets Manager: KEY=$(make -s admin-key) (STAGE=dev|prod)
	@$(GO) run ./infra/token -stage $(STAGE) -admin-key

$(CDK): node_modules/.bin/newman
	@touch $@

# The linters are Go tool dependencies of tools/go.mod, a module of its own
# so that they add nothing to the product's go.mod: pinned there (and in
# tools/go.sum), fetched from the Go module proxy, built once into the Go
# build cache. `go tool -n` builds one if needed and prints its path; the
# linters then run from the root, on the product's module.
GO_FILES = find . -name '*.go' -not -path './.data/*' -not -path './build/*' -not -path './node_modules/*' -not -path './dashboard/node_modules/*' -not -path './cdk.out/*'

fmt: ## goimports every Go file (gofmt, and the imports grouped and sorted)
	@set -e; goimports=$$(cd tools && $(GO) tool -n goimports); \
	$$goimports -w $$($(GO_FILES))

lint: ## go vet, staticcheck (staticcheck.conf), errcheck (tools/errcheck_excludes.txt), a goimports check; linters pinned in tools/go.mod
	$(GO) vet ./...
	@set -e; \
	staticcheck=$$(cd tools && $(GO) tool -n staticcheck); \
	errcheck=$$(cd tools && $(GO) tool -n errcheck); \
	goimports=$$(cd tools && $(GO) tool -n goimports); \
	echo "staticcheck ./..."; $$staticcheck ./...; \
	echo "errcheck -exclude tools/errcheck_excludes.txt ./..."; $$errcheck -exclude tools/errcheck_excludes.txt ./...; \
	echo "goimports -l"; out=$$($$goimports -l $$($(GO_FILES))); \
	if [ -n "$$out" ]; then echo "make fmt needed (goimports) on:"; echo "$$out"; exit 1; fi

clean: ## reset what make run keeps (stop it first): drop the databases it created on DATABASE_URL's server (listed), remove DATA_DIR (.data) and build output
	$(GO) run ./localstack/run clean
	rm -rf .data build cdk.out dashboard/dist
