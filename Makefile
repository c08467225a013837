# tarsctl — thin wrappers; CI calls exactly these targets.
SHELL := /bin/bash
GO ?= go
PKG := github.com/tars-ops/tarsctl
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DATE ?= $(shell date -u -d @$${SOURCE_DATE_EPOCH:-$$(date +%s)} +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X $(PKG)/internal/build.Version=$(VERSION) -X $(PKG)/internal/build.Commit=$(COMMIT) -X $(PKG)/internal/build.Date=$(DATE)
FUZZTIME ?= 10s
STATICCHECK_VERSION ?= v0.8.2

.PHONY: all build run clean test test-deps lint fmt vet bench fuzz docs completions check-generated release-check release-snapshot

all: build

build: ## bin/tarsctl and its Kubernetes companion bin/tarsctl-k8s, with version, commit and date stamped in
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ ./cmd/tarsctl ./cmd/tarsctl-k8s

run: build ## start the local stack on the embedded defaults, then show its status
	bin/tarsctl start --all
	bin/tarsctl status

clean:
	rm -rf bin dist

test-deps: ## install what the tests need (redis-server, PostgreSQL 15) when missing; build the Kubernetes test control plane once (~20 min, cached in ~/.cache)
	./scripts/test-deps.sh
	./scripts/k8s-testenv.sh build
	./scripts/vault-testenv.sh build

test: test-deps ## the one test command: real Redis and PostgreSQL, race detector on
	$(GO) test -race -count=1 ./...

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

lint: vet ## go vet, gofmt check, staticcheck
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "not gofmt-formatted:"; echo "$$unformatted"; exit 1; fi
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

bench: ## headline benchmarks, then the start-up time
	$(GO) test -run '^$$' -bench . -benchmem ./...
	./bench/startup.sh

fuzz: ## run every Fuzz target for FUZZTIME
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

docs: ## docs/cli, docs/man and completions/ from the command tree; the Helm chart's daemon lists from the service catalog
	$(GO) run ./cmd/gen-docs

completions: docs

check-generated: docs
	git diff --exit-code -- docs completions internal/deploy/chart/tars

release-check: ## goreleaser check
	goreleaser check

release-snapshot:
	goreleaser release --snapshot --clean
