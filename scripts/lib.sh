# Shared by scripts/run.sh and scripts/test.sh: install what the project needs on a fresh Debian.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian packages: softhsm2 (the development HSM), openssl (independent checks in tests).
ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

ensure_rust() {
  command -v cargo >/dev/null || {
    echo "cargo not found: install the Rust toolchain (rustup) first" >&2
    exit 1
  }
}

# A Python venv with the independent checkers the tests use: cryptography (SCTs, certificates),
# pkilint (certificate linting) and sigstore-python (the reference client). Exports
# HALLMARK_PYTHON for the tests.
ensure_venv() {
  local venv="$ROOT/.venv"
  local want="cryptography pkilint sigstore==4.5.1"
  ensure_packages python3-venv
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import cryptography, pkilint, sigstore' 2>/dev/null; then
    log "installing the Python reference tools ($want) into .venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check $want
  fi
  export HALLMARK_PYTHON="$venv/bin/python"
  export PATH="$venv/bin:$PATH"
}
