# buildledger — the two commands: `make run` (the service) and `make test` (the suite).
# Both start the local AWS emulators first (DynamoDB Local and fauxqs, installed from
# .localstack/package-lock.json) and point the AWS SDK at them with the standard variables.

DYNAMODB_PORT ?= 8000
FAUXQS_PORT ?= 4566
export BUILDLEDGER_DYNAMODB_PORT := $(DYNAMODB_PORT)
export BUILDLEDGER_FAUXQS_PORT := $(FAUXQS_PORT)
export AWS_REGION ?= us-east-1
export AWS_ACCESS_KEY_ID ?= local
export AWS_SECRET_ACCESS_KEY ?= local
export AWS_ENDPOINT_URL_DYNAMODB ?= http://127.0.0.1:$(DYNAMODB_PORT)
export AWS_ENDPOINT_URL_SQS ?= http://127.0.0.1:$(FAUXQS_PORT)
export AWS_ENDPOINT_URL_SNS ?= http://127.0.0.1:$(FAUXQS_PORT)

GO ?= go
TESTFLAGS ?= -race -count=1 -timeout 20m
BIN := bin/buildledger
BENCH_BIN := bin/buildledger-bench

.PHONY: help up down build run test lint bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-6s %s\n", $$1, $$2}'

up: ## install (if missing) and start DynamoDB Local and fauxqs (they listen on every interface: README); safe to run twice
	@scripts/localstack.sh up

down: ## stop the emulators that `make up` started
	@scripts/localstack.sh down

build: ## build bin/buildledger
	$(GO) build -o $(BIN) ./cmd/buildledger

run: up build ## start the emulators, create the resources, run the worker and the read API
	$(BIN) init
	$(BIN) run

test: up ## start the emulators and run every test, integration tests included, with -race
	$(GO) test $(TESTFLAGS) ./...

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "not gofmt-clean:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench: up ## measure against raw baselines: one markdown table, JSON in bench-results/ (BENCHFLAGS=--help)
	$(GO) build -o $(BENCH_BIN) ./cmd/buildledger-bench
	$(BENCH_BIN) $(BENCHFLAGS)

clean: down ## stop the emulators and remove build output
	rm -rf bin
