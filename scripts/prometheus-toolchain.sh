#!/usr/bin/env bash
# Provides Prometheus and promtool (Debian's `prometheus` package) for the alert-rule checks and the
# scrape test. Prints `export` lines for PROMETHEUS and PROMTOOL so callers can `eval` it.
#
#   PROMETHEUS / PROMTOOL  binaries to use; else on PATH; else installed with apt-get (root or sudo)
set -euo pipefail
log() { echo "[prometheus-toolchain] $*" >&2; }

if [ -z "${PROMTOOL:-}" ] || [ -z "${PROMETHEUS:-}" ]; then
  if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then
      command -v sudo >/dev/null 2>&1 || { log "promtool is missing: run 'apt-get install prometheus' as root."; exit 1; }
      sudo="sudo -n"
    fi
    log "installing Debian's prometheus package (promtool, prometheus)"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y --no-install-recommends prometheus >&2 ||
      { $sudo apt-get update >&2 && $sudo apt-get install -y --no-install-recommends prometheus >&2; }
    # The package's service is not wanted: the tests run their own Prometheus.
    $sudo pkill -x prometheus >/dev/null 2>&1 || true
  fi
  PROMTOOL="$(command -v promtool)"
  PROMETHEUS="$(command -v prometheus)"
fi
log "$("$PROMTOOL" --version 2>&1 | head -1)"
echo "export PROMTOOL='$PROMTOOL'"
echo "export PROMETHEUS='$PROMETHEUS'"
