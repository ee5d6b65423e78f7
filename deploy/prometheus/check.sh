#!/usr/bin/env bash
# Checks the alert rules with Prometheus's own promtool: `check rules` (syntax, PromQL) and
# `test rules` (alerts_test.yml: each alert fires, or not, on the series it should).
# promtool comes from Debian's `prometheus` package, unpacked into a temporary directory
# (nothing is installed system-wide and no service starts).
set -euo pipefail
cd "$(dirname "$0")"

promtool=$(command -v promtool || true)
if [ -z "$promtool" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && { apt-get download prometheus >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get download prometheus >/dev/null; }; })
  dpkg -x "$tmp"/prometheus_*.deb "$tmp/root"
  promtool="$tmp/root/usr/bin/promtool"
fi
"$promtool" check rules alerts.yml
"$promtool" test rules alerts_test.yml
