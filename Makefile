# careline: two commands do all the set-up on a fresh Debian machine.
#   make run    run the engine with configs/careline.yaml (installs and starts what it needs)
#   make test   install test peers, start services, vet, and run every test
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
CONFIG ?= configs/careline.yaml
FUZZTIME ?= 20000x
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: run test build vet unit fuzz promtool services services-down bench bench-calls bench-relay clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/careline ./cmd/careline

services:
	@scripts/services.sh up

run: 
	@scripts/services.sh deps run
	@scripts/services.sh up
	@$(MAKE) --no-print-directory build
	@set -a && . .local/env && set +a && ./bin/careline migrate --config $(CONFIG) && \
		echo "careline: agent SIP passwords are in .local/secrets.env; metrics on http://127.0.0.1:9464/metrics" && \
		exec ./bin/careline serve --config $(CONFIG)

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

unit:
	@set -a && . .local/env && set +a && $(GO) test -count=1 -timeout 12m ./...

fuzz:
	@scripts/fuzz.sh $(FUZZTIME)

# Prometheus rules and their unit tests (promtool check/test rules).
promtool:
	@scripts/promtool.sh

test:
	@scripts/services.sh deps test
	@scripts/services.sh up
	@$(MAKE) --no-print-directory vet
	@$(MAKE) --no-print-directory promtool
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory fuzz

bench:
	@scripts/services.sh deps bench
	@scripts/services.sh up
	@set -a && . .local/env && set +a && $(GO) run ./bench/cmd/gobench -write-readme
	@$(MAKE) --no-print-directory bench-relay
	@$(MAKE) --no-print-directory bench-calls

# Call benchmarks (about 25 minutes): SIPp call setups per second, concurrent calls with
# RTP gaps, CPU and heap per call; rewrites the generated tables in bench/README.md.
# CALLBENCH_FLAGS="-runs 1 -concurrent 500" for a quick look.
bench-calls:
	@scripts/services.sh deps test
	@scripts/services.sh up
	@set -a && . .local/env && set +a && $(GO) run ./bench/cmd/callbench -write-readme $(CALLBENCH_FLAGS)
	@set -a && . .local/env && set +a && $(GO) run ./bench/cmd/callbench -write-readme -section calls-duplex -phases concurrent -caller-audio -concurrent 250,500,1000 $(CALLBENCH_FLAGS)

# careline's RTP relay (media.Bridge) vs rtpengine userspace, one pinned core each, on
# 127.0.0.1 (see bench/README.md, "RTP relay"). RELAYBENCH_FLAGS e.g. "-calls 250 -reps 1".
RELAYBENCH_FLAGS ?= -calls 250,500,1000 -reps 3
bench-relay:
	@scripts/services.sh deps bench
	$(GO) test -run XXX -bench BridgeRelay -benchtime 20000x -count 3 ./media/
	$(GO) run ./bench/cmd/relaybench -write-readme $(RELAYBENCH_FLAGS)

services-down:
	@scripts/services.sh down

clean:
	rm -rf bin
