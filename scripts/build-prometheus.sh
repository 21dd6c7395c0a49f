#!/usr/bin/env bash
# Builds Prometheus 3 (the server and promtool) from the official module at a
# pinned version, into $METRICSBRIDGE_CACHE/prometheus/<version>/ (by default
# ~/.cache/metricsbridge, outside the checkout), so a machine pays for the
# build once, whichever clone of the project asks. The tests use it as their default real
# Prometheus; Debian's older package stays for one compatibility test.
# Prints the folder holding both binaries on its last line. With --cached it
# builds nothing and exits 3 when no build is cached.
#
# Cost measured on a 2-core machine: about 6 minutes cold (module download and
# compilation of the server's dependency graph), a few seconds when cached.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${METRICSBRIDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/metricsbridge}

# Prometheus 3.x is published as Go module versions v0.3xx.y (3.16.0 is
# v0.316.0).
version=v0.316.0
out=$cache/prometheus/$version-$(go env GOVERSION)
if [ -x "$out/prometheus" ] && [ -x "$out/promtool" ]; then
	echo "$out"
	exit 0
fi
# --cached only reports a finished build: go test without METRICSBRIDGE_E2E
# skips rather than wait minutes for one.
if [ "${1:-}" = --cached ]; then
	echo "build-prometheus: no cached build in $cache" >&2
	exit 3
fi

# Test binaries of several packages may ask at once: one builds, the others
# wait for it and reuse its result.
mkdir -p "$cache/prometheus"
exec 9>"$cache/prometheus/.lock"
flock 9
if [ -x "$out/prometheus" ] && [ -x "$out/promtool" ]; then
	echo "$out"
	exit 0
fi

echo "build-prometheus: building prometheus and promtool $version (about 6 minutes cold)" >&2
start=$(date +%s)
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
# The web UI's assets are not embedded by go install (they need npm); the
# tests use the HTTP API only.
GOBIN=$out.tmp CGO_ENABLED=0 go install -trimpath -ldflags='-s -w' \
	"github.com/prometheus/prometheus/cmd/prometheus@$version" \
	"github.com/prometheus/prometheus/cmd/promtool@$version" >&2
rm -rf "$out"
mv "$out.tmp" "$out"
echo "build-prometheus: built in $(( $(date +%s) - start ))s" >&2
echo "$out"
