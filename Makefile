# The test command is `make test`: it installs what the tests need, checks
# formatting and vet, runs every test with the race detector (including the
# ones against a real Prometheus server), and runs each benchmark once so
# they keep compiling and working.
GO ?= go

# A test that needs a program from outside Go (Prometheus, the Collector,
# Chromium, Node, PyJWT) skips when it is missing, so that `go test ./...`
# passes with only Go; under make a missing program fails the test instead
# (internal/testenv), so CI cannot pass by skipping.
export METRICSBRIDGE_E2E ?= 1

.PHONY: all deps test check race examples bench-smoke bench build fuzz-smoke fuzz soak

all: build

build:
	$(GO) build -o bin/metricsbridge ./cmd/metricsbridge

deps:
	./scripts/install-deps.sh

check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff
	cd examples/go && $(GO) mod tidy -diff
	@before=$$(git diff --no-ext-diff -- $$(git ls-files '*.go') | git hash-object --stdin); \
	$(GO) generate ./... || exit 1; \
	after=$$(git diff --no-ext-diff -- $$(git ls-files '*.go') | git hash-object --stdin); \
	if [ "$$before" != "$$after" ]; then echo "go generate ./... changed files; commit what it generates:"; git diff --stat; exit 1; fi

race:
	$(GO) test -race -count=1 -timeout 15m ./...

# The Go example programs are one module of their own, so the root module
# gains no router dependency; ./... above does not reach them.
EXAMPLE_MODULES = examples/go

examples:
	@for m in $(EXAMPLE_MODULES); do \
		echo "vet and test $$m"; \
		(cd $$m && $(GO) vet ./... && $(GO) test -race -count=1 ./...) || exit 1; \
	done

bench-smoke:
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 10m ./...

# Every fuzz target, briefly in the test command and longer on demand.
# go test -fuzz takes one target and one package at a time.
FUZZ_TARGETS = ./auth:FuzzVerify ./otelmetrics/routes:FuzzRoutes ./otelmetrics/routes:FuzzMatch ./otelmetrics/routes:FuzzOpenAPI ./otelmetrics/routes:FuzzServeMuxAgreement ./otelmetrics:FuzzLatencyBuckets ./otelmetrics:FuzzCustomLabels ./otelmetrics:FuzzExcludedHandlers ./otelmetrics/dashboard:FuzzHistogram ./promexport:FuzzNegotiateEncoding
FUZZTIME ?= 10s

fuzz-smoke:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; \
		echo "fuzz $$name ($$pkg) for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

fuzz:
	$(MAKE) fuzz-smoke FUZZTIME=5m

# 200,000 requests per mode through the demo gateway and the proxy while a
# real Prometheus and a loop scraper scrape; the test command runs it with
# SOAK_REQUESTS=20000.
SOAK_REQUESTS ?= 200000

soak:
	$(GO) test -count=1 -run '^TestSoak$$' -v -timeout 30m ./cmd/metricsbridge -soak.requests=$(SOAK_REQUESTS)

test: deps check race examples bench-smoke fuzz-smoke
	$(MAKE) soak SOAK_REQUESTS=20000

# Side-by-side figures quoted in README.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 -timeout 30m ./otelmetrics/... ./promexport ./auth ./cmd/metricsbridge
