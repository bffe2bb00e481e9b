# Warren — message-driven microservices on RabbitMQ that scale themselves.
# `make help` lists the targets.

SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
GO ?= go
export PATH := $(PATH):/usr/local/go/bin
BIN := bin
SERVICES := filter insult broadcaster master warren
# Binaries say which commit they were built from (`--version`); some machines set GOFLAGS=-buildvcs=false, and a
# tree outside git (or one git refuses to read) cannot be stamped at all.
BUILDVCS := $(shell git rev-parse --git-dir >/dev/null 2>&1 && echo auto || echo false)
export GOFLAGS := $(GOFLAGS) -buildvcs=$(BUILDVCS)
COMPOSE := $(shell if docker compose version >/dev/null 2>&1; then echo "docker compose"; else echo docker-compose; fi)

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: broker
broker: ## Make sure a RabbitMQ broker answers (installs and starts Debian's rabbitmq-server if needed).
	@bash compose/broker-up.sh

.PHONY: users
users: broker build ## Create the warren vhost and one least-privilege user per service (URLs in out/credentials.env).
	@bash compose/broker-users.sh

.PHONY: build
build: ## Build every binary into bin/ (static, CGO off).
	@mkdir -p $(BIN)
	@for s in $(SERVICES); do \
		if [ -d services/$$s ]; then \
			out=$(BIN)/warren-$$s; [ $$s = warren ] && out=$(BIN)/warren; \
			CGO_ENABLED=0 $(GO) build -trimpath -o $$out ./services/$$s || exit 1; \
		fi; \
	done
	@if [ -f loadgen/main.go ]; then CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/warren-loadgen ./loadgen; fi

.PHONY: loadgen
loadgen: ## Build the load generator into bin/warren-loadgen.
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/warren-loadgen ./loadgen

.PHONY: run
run: broker build ## Run the whole system as local processes with a demo (Ctrl-C stops it cleanly).
	@bash scripts/run-demo.sh

.PHONY: test
test: broker lint test-images test-tools ## Run all tests: unit and integration, against the real broker and Docker engine.
	$(GO) test -tags integration -race -count=1 -timeout 20m ./...
	@echo "chaos (short form): restarts the shared broker, so it runs alone, after the rest"
	$(GO) test -tags chaos -count=1 -timeout 10m -v -run TestChaos ./chaos/ 2>&1 | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|chaos_test.go|published'

.PHONY: test-images
test-images: ## Build the images the tests share (workers, broker) once, before the test packages run in parallel.
	@if docker version >/dev/null 2>&1; then \
		bash compose/build-images.sh && bash compose/rabbitmq-image.sh; \
	else echo "test-images: no Docker engine answers; the tests that need one will say so"; fi

.PHONY: test-tools
test-tools: ## Install Debian's prometheus and chromium where missing (the metrics and browser tests use them).
	@bash scripts/test-tools.sh

.PHONY: chaos
chaos: broker ## Long chaos test (>= 5 min, >= 20 kills, a full broker stop and start); prints its report.
	CHAOS_LONG=1 $(GO) test -tags chaos -count=1 -timeout 30m -v -run TestChaos ./chaos/ 2>&1 | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|chaos_test.go|published'

.PHONY: test-unit
test-unit: ## Run the tests that need neither broker nor Docker.
	$(GO) test -race -count=1 ./...

.PHONY: bench
bench: broker build ## Run the benchmark suite (results in loadgen/bench/results.md).
	@if [ -f scripts/bench.sh ]; then bash scripts/bench.sh; else $(GO) test -run '^$$' -bench . -benchmem ./...; fi

.PHONY: lint
lint: ## gofmt, go vet, and the rule that shared/ never imports services/.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet -tags integration ./...
	@bad=$$($(GO) list -tags integration -f '{{.ImportPath}}: {{join .Imports " "}} {{join .TestImports " "}}' ./shared/... | grep -o '[^ ]*/services/[^ ]*' || true); \
		if [ -n "$$bad" ]; then echo "shared/ must not import services/: $$bad"; exit 1; fi

.PHONY: images
images: ## Build the worker and service images FROM scratch on the local engine (no pulls).
	@bash compose/build-images.sh

.PHONY: rabbitmq-image
rabbitmq-image: ## Build the broker image warren/rabbitmq:3.10-local from Debian packages (no registry; cached).
	@bash compose/rabbitmq-image.sh

.PHONY: up
up: ## Start the compose stack (broker, insult, master spawning workers); returns when the broker accepts AMQP.
	@COMPOSE="$(COMPOSE)" bash compose/stack.sh up

.PHONY: down
down: ## Remove the compose stack: its containers, the workers its master spawned, network and volume.
	@COMPOSE="$(COMPOSE)" bash compose/stack.sh down

.PHONY: logs
logs: ## Follow the compose stack's master: its scaling decisions.
	@COMPOSE="$(COMPOSE)" bash compose/stack.sh logs

.PHONY: clean
clean: ## Remove build outputs.
	rm -rf $(BIN) out
