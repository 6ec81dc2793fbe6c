# Front door. `make help` lists the targets; `make run` and `make test` alone set up everything
# (PostgreSQL, RabbitMQ, the intake role and database) on this machine or a fresh Debian 12.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# Defaults for the binaries and the tests; tests derive their own database and queue names from
# these, so sharing them is safe. Override from the environment or the command line.
export DATABASE_URL ?= postgres://intake:intake@127.0.0.1:5432/intake
export AMQP_URL ?= amqp://intake:intake@127.0.0.1:5672/intake

BIN := ./target/release
# Where `make install` puts the binaries (run as root for /usr/local, or PREFIX=~/.local).
PREFIX ?= /usr/local
# nextest where installed (dev machines and CI have it), plain cargo test otherwise.
TEST_RUNNER = $(if $(shell cargo nextest --version 2>/dev/null),cargo nextest run,cargo test)

.PHONY: help services browser-services contract-tools build install migrate demo run run-front run-consumer fmt lint test bench fuzz chaos cluster replica hostile export-bench clean

help: ## Show this list
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  %-17s %s\n", $$1, $$2}'

services: ## Install/start PostgreSQL and RabbitMQ, create the intake role and database
	@bash scripts/services.sh

browser-services: ## The services, plus Chromium and chromedriver for the console's browser tests
	@SERVICES_BROWSER=1 bash scripts/services.sh

contract-tools: ## Install schemathesis and the OpenAPI validator into target/contract-venv
	@bash scripts/contract_tools.sh

build: ## Build the release binaries
	cargo build --release --bins

install: build ## Copy intake, intake-front and intake-consumer to $(PREFIX)/bin (/usr/local)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN)/intake $(BIN)/intake-front $(BIN)/intake-consumer $(DESTDIR)$(PREFIX)/bin/
	@echo "installed into $(DESTDIR)$(PREFIX)/bin; outside this directory name the configuration" \
		"with INTAKE_CONFIG=FILE or intake --config FILE (see config/example.toml)"

migrate: services build ## Apply the database migrations
	$(BIN)/intake migrate

demo: migrate ## Create the demo project and user (secret, curl command) and console user (password)
	$(BIN)/intake demo
	@echo
	$(BIN)/intake console-user demo

run: services build migrate demo ## Run intake-front, intake-consumer and the console until Ctrl-C
	@bash scripts/run.sh $(BIN)/intake-front $(BIN)/intake-consumer "$(BIN)/intake console"

run-front: services build migrate ## Run only the HTTP front
	$(BIN)/intake-front

run-consumer: services build migrate ## Run only the queue consumer
	$(BIN)/intake-consumer

fmt: ## Format the code
	cargo fmt --all

lint: ## Check formatting and run clippy with warnings as errors
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings

# Doc tests run first so that the last summary in the log is the main test run's. The binaries
# are built first because tests run the `intake` tool, which `cargo test` alone does not build.
test: browser-services contract-tools lint ## Lint, then run all tests against the real services
	cargo build --workspace --bins
	cargo test --doc
	$(TEST_RUNNER) --workspace --no-fail-fast

bench: ## Run the benchmarks (scripts/bench.sh)
	@if [[ -f scripts/bench.sh ]]; then bash scripts/bench.sh; \
	else echo "bench: scripts/bench.sh is not there yet" >&2; exit 1; fi

chaos: ## Fault suite against the real services (CHAOS_SECONDS per scenario, default 30; CHAOS_ONLY=cluster)
	@bash scripts/chaos.sh

cluster: services ## Start a local 3-node RabbitMQ cluster on 5701-5703 (scripts/cluster.sh; down: scripts/cluster.sh down)
	@bash scripts/cluster.sh up

replica: services ## Start a PostgreSQL streaming standby on 127.0.0.1:5433 (scripts/replica.sh; down: scripts/replica.sh down)
	@bash scripts/replica.sh up

hostile: services ## The front's peak memory for each hostile body shape (scripts/hostile.sh)
	@bash scripts/hostile.sh

export-bench: services ## Export 100k and 1M sessions through a release front: rate, peak memory (scripts/export_bench.sh)
	@bash scripts/export_bench.sh

fuzz: ## Fuzz the body and message decoders (FUZZ_SECONDS per target, default 60)
	@bash scripts/fuzz.sh

clean: ## Remove build output
	cargo clean
