#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine: Go modules (the
# root module's and each router example's), Prometheus 3 and its promtool
# built from the official module (scripts/build-prometheus.sh), the Debian
# package "prometheus" (a Prometheus 2, for the compatibility test),
# headless Chromium (Debian package "chromium"), the JWT
# libraries the token
# interoperability tests compare against (jose and jsonwebtoken from npm,
# PyJWT from the Debian package python3-jwt), and an OpenTelemetry Collector
# built from collector/builder-config.yaml. Safe to run repeatedly; it only
# installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
# Slow builds and npm packages are cached outside the checkout, so every
# clone on a machine shares them.
cache=${METRICSBRIDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/metricsbridge}

need_root() {
	if [ "$(id -u)" -eq 0 ]; then return; fi
	command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root or sudo to apt-get install $*" >&2; exit 1; }
	echo sudo
}

if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
	sudo=$(need_root prometheus)
	echo "install-deps: installing the Debian package prometheus (for prometheus and promtool)"
	$sudo apt-get update -qq
	# The package's service is not wanted: tests start their own servers.
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
promtool --version 2>&1 | head -n 1

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	sudo=$(need_root nodejs npm)
	echo "install-deps: installing Node.js (Debian packages nodejs and npm)"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

# Headless Chromium for the dashboard's browser tests, driven over the
# DevTools protocol on a pipe (no driver library).
if ! command -v chromium >/dev/null 2>&1; then
	sudo=$(need_root chromium)
	echo "install-deps: installing the Debian package chromium (for the dashboard's browser tests)"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

# PyJWT, the JWT library of the Python gateway whose tokens are accepted. Debian's python3 is asked,
# since another python3 may come first in PATH.
if ! /usr/bin/python3 -c "import jwt" >/dev/null 2>&1; then
	sudo=$(need_root python3-jwt)
	echo "install-deps: installing PyJWT (Debian package python3-jwt)"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3 python3-jwt >/dev/null
fi
echo "PyJWT $(/usr/bin/python3 -c 'import jwt; print(jwt.__version__)')"

# The lock file pins jose and jsonwebtoken; npm ci reinstalls only when it
# changed.
lock=cmd/metricsbridge/testdata/interop/package-lock.json
npmdir=$cache/npm
if ! cmp -s "$lock" "$npmdir/package-lock.json" || [ ! -d "$npmdir/node_modules/jose" ]; then
	echo "install-deps: installing the npm JWT libraries into $npmdir"
	mkdir -p "$npmdir"
	cp cmd/metricsbridge/testdata/interop/package.json "$lock" "$npmdir/"
	(cd "$npmdir" && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "node $(node --version)"

go mod download
# The Go example programs are a module of their own.
(cd examples/go && go mod download)

# Prometheus 3, the tests' default server, built once per machine (about 6
# minutes cold on 2 cores) and cached in $cache/prometheus.
./scripts/build-prometheus.sh >/dev/null

# The OpenTelemetry Collector the push and scrape tests use, built once per
# machine (7.5 minutes cold on an idle 2-core machine, an hour when the
# cores are shared) and cached in $cache/otelcol.
./scripts/build-collector.sh >/dev/null
