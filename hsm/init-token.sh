#!/usr/bin/env bash
# Initialise Hallmark's SoftHSM token, idempotently.
#
#   hsm/init-token.sh [STATE_DIR]          # run it
#   source hsm/init-token.sh [STATE_DIR]   # or source it, to keep the exported variables
#
# STATE_DIR (default .hallmark/hsm) receives:
#   softhsm2.conf   written from hsm/softhsm2.conf.template (token directory STATE_DIR/tokens)
#   so-pin          random security-officer PIN, mode 0600, created once
#   user-pin        random user PIN, mode 0600, created once
#   tokens/         SoftHSM's token files
#
# Then the token (label $HALLMARK_TOKEN_LABEL, default "hallmark") is created with
# `hallmark hsm init-token` unless it exists. PINs are passed as FILE NAMES, never on argv.
#
# Exports (visible to the caller when sourced):
#   SOFTHSM2_CONF             SoftHSM reads its configuration from here
#   HALLMARK_PKCS11_MODULE    the module (default /usr/lib/softhsm/libsofthsm2.so)
#   HALLMARK_PKCS11_PIN_FILE  the user PIN file, picked up by later `hallmark` commands
#
# Environment: HALLMARK_BIN (default: `hallmark` on PATH), HALLMARK_PKCS11_MODULE,
# HALLMARK_TOKEN_LABEL, HALLMARK_PIN_PREFIX (default empty). A second token in the same SoftHSM
# directory, such as the CA root's own token, gets its own PIN files: scripts/run.sh runs
#   HALLMARK_TOKEN_LABEL=hallmark-root HALLMARK_PIN_PREFIX=root- hsm/init-token.sh STATE_DIR
# for root-so-pin and root-user-pin, and exports nothing for it.

_hallmark_init_token() {
  local state="${1:-.hallmark/hsm}"
  local here bin module label conf tokens escaped
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) || return 1
  bin="${HALLMARK_BIN:-hallmark}"
  module="${HALLMARK_PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}"
  label="${HALLMARK_TOKEN_LABEL:-hallmark}"
  local prefix="${HALLMARK_PIN_PREFIX:-}"

  if [ ! -e "$module" ]; then
    echo "init-token: PKCS#11 module $module not found: apt-get install softhsm2 (or set HALLMARK_PKCS11_MODULE)" >&2
    return 1
  fi
  if ! command -v "$bin" >/dev/null 2>&1; then
    echo "init-token: hallmark binary '$bin' not found: build it (cargo build -p hallmark-cli) and set HALLMARK_BIN" >&2
    return 1
  fi

  mkdir -p "$state/tokens" || return 1
  chmod 700 "$state" || return 1
  state=$(cd "$state" && pwd) || return 1
  conf="$state/softhsm2.conf"
  tokens="$state/tokens"

  # A token without its PIN files cannot be used; refuse rather than mint PINs that do not match.
  if [ -z "$prefix" ] && [ -n "$(ls -A "$tokens")" ] &&
    { [ ! -s "$state/so-pin" ] || [ ! -s "$state/user-pin" ]; }; then
    echo "init-token: $tokens holds a token but $state/so-pin or $state/user-pin is missing;" \
      "restore the PIN files, or remove $tokens to start over (destroys the keys)" >&2
    return 1
  fi

  # Escape the path for sed's replacement text.
  escaped=$(printf '%s' "$tokens" | sed 's/[&|\\]/\\&/g')
  sed "s|@TOKENDIR@|$escaped|" "$here/softhsm2.conf.template" >"$conf.tmp" && mv "$conf.tmp" "$conf" || return 1

  local pin
  for pin in "${prefix}so-pin" "${prefix}user-pin"; do
    if [ ! -s "$state/$pin" ]; then
      # 16 random bytes as 32 hex digits; written under umask 077, so mode 0600.
      (umask 077 && head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$state/$pin") || return 1
    fi
    chmod 600 "$state/$pin" || return 1
  done

  export SOFTHSM2_CONF="$conf"
  export HALLMARK_PKCS11_MODULE="$module"
  if [ -z "$prefix" ]; then
    export HALLMARK_PKCS11_PIN_FILE="$state/user-pin"
  fi

  "$bin" hsm init-token \
    --module "$module" \
    --label "$label" \
    --so-pin-file "$state/${prefix}so-pin" \
    --pin-file "$state/${prefix}user-pin"
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
  # Sourced: leave the caller's shell options alone; report failure through the return status.
  _hallmark_init_token "$@" || return 1
else
  set -euo pipefail
  _hallmark_init_token "$@"
  if [ -z "${HALLMARK_PIN_PREFIX:-}" ]; then
    echo "init-token: to use this token from your shell: export SOFTHSM2_CONF=$SOFTHSM2_CONF HALLMARK_PKCS11_PIN_FILE=$HALLMARK_PKCS11_PIN_FILE" >&2
  fi
fi
