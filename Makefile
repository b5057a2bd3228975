# JobWeaver: `make` (or `make help`) lists the targets.

GO    ?= go
FN    ?=
EVENT ?=

.DEFAULT_GOAL := help
.PHONY: help run test bench build invoke fmt lint clean

help: ## list the targets
	@echo "JobWeaver make targets:"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: ## run the whole platform locally (API on :8080); settings: go run ./localstack/devstack --help
	$(GO) run ./localstack/devstack

test: node_modules/.bin/newman ## go vet, then every test with -count=1 (real Postgres, in-process Kafka broker, newman)
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

node_modules/.bin/newman: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "make: npm is needed to run the original client collection with newman: sudo apt-get install nodejs npm" >&2; exit 1; }
	npm ci --no-audit --no-fund
	@touch $@

bench: ## run the benchmarks (go run ./bench)
	$(GO) run ./bench

build: ## build the Lambda bootstrap binaries into build/ (not written yet)
	@echo "build: not implemented yet" >&2; exit 1

invoke: ## run one function once on an event: make invoke FN=worker EVENT=events/worker/run-job.json
	@if [ -z "$(FN)" ] || [ -z "$(EVENT)" ]; then \
		echo "usage: make invoke FN=api|scheduler|worker|dlq EVENT=events/<function>/<event>.json" >&2; exit 2; fi
	$(GO) run ./localstack/invoke $(FN) $(EVENT)

fmt: ## gofmt every Go file
	gofmt -w $$(find . -name '*.go' -not -path './.data/*' -not -path './build/*')

lint: ## go vet and a gofmt check
	$(GO) vet ./...
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './.data/*' -not -path './build/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

clean: ## remove local data (.data: broker log, private Postgres; stop make run first) and build output
	rm -rf .data build
