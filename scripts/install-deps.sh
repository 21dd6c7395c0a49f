#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine: Go modules and the
# real Prometheus server and promtool (Debian package "prometheus"). Safe to
# run repeatedly; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root or sudo to apt-get install prometheus" >&2; exit 1; }
		sudo="sudo"
	fi
	echo "install-deps: installing the Debian package prometheus (for prometheus and promtool)"
	$sudo apt-get update -qq
	# The package's service is not wanted: tests start their own servers.
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
promtool --version 2>&1 | head -n 1

go mod download
