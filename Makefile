# The test command is `make test`: it installs what the tests need, checks
# formatting and vet, runs every test with the race detector (including the
# ones against a real Prometheus server), and runs each benchmark once so
# they keep compiling and working.
GO ?= go

.PHONY: all deps test check race bench-smoke bench build

all: build

build:
	$(GO) build -o bin/metricsbridge ./cmd/metricsbridge

deps:
	./scripts/install-deps.sh

check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

race:
	$(GO) test -race -count=1 -timeout 15m ./...

bench-smoke:
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 10m ./...

test: deps check race bench-smoke

# Side-by-side figures quoted in README.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 -timeout 30m ./otelmetrics ./promexport
