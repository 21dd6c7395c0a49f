#!/usr/bin/env bash
# Builds the OpenTelemetry Collector distribution described by
# collector/builder-config.yaml with the official builder, into
# $METRICSBRIDGE_CACHE/otelcol/<manifest hash>/otelcol-metricsbridge (by
# default ~/.cache/metricsbridge, outside the checkout). A binary
# built from the same manifest is reused, so a machine pays for the build once.
# Prints the binary's path on its last line. With --cached it builds nothing
# and exits 3 when no build is cached.
#
# The manifest's contrib prometheus receiver brings most of the Prometheus
# server and its cloud SDKs: about 4 minutes with warm module caches, 7.5
# cold on an idle 2-core machine, 61 minutes measured on two cores shared
# with other compilations; the binary is about 110 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${METRICSBRIDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/metricsbridge}

manifest=collector/builder-config.yaml
builder_version=v0.165.0
hash=$( (cat "$manifest"; echo "$builder_version"; go env GOVERSION) | sha256sum | cut -c1-16)
out=$cache/otelcol/$hash
bin=$out/otelcol-metricsbridge
if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi
# --cached only reports a finished build: go test without METRICSBRIDGE_E2E
# skips rather than wait minutes for one.
if [ "${1:-}" = --cached ]; then
	echo "build-collector: no cached build in $cache" >&2
	exit 3
fi

# Test binaries of several packages may ask at once: one builds, the others
# wait for it and reuse its result.
mkdir -p "$cache/otelcol"
exec 9>"$cache/otelcol/.lock"
flock 9
if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi

gobin=$cache/otelcol/bin
if [ ! -x "$gobin/builder" ] || ! "$gobin/builder" version 2>/dev/null | grep -q "${builder_version#v}"; then
	echo "build-collector: installing the collector builder $builder_version" >&2
	GOBIN=$gobin go install "go.opentelemetry.io/collector/cmd/builder@$builder_version"
fi

echo "build-collector: building the collector (about 4 minutes with warm caches, longer cold)" >&2
start=$(date +%s)
src=$cache/otelcol/src
rm -rf "$src"
mkdir -p "$cache/otelcol"
sed "s|output_path: .*|output_path: $src|" "$manifest" >"$cache/otelcol/builder-config.yaml"
"$gobin/builder" --config="$cache/otelcol/builder-config.yaml" --skip-compilation >&2
(cd "$src" && go mod tidy >&2 && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$bin.tmp" . >&2)
mv "$bin.tmp" "$bin"
echo "build-collector: built in $(( $(date +%s) - start ))s" >&2
echo "$bin"
