#!/usr/bin/env bash
# The main job on a fresh Debian machine: installs what it needs, builds hallmark, initialises the
# SoftHSM token under .hallmark/hsm (PINs generated into 0600 files), generates the log key inside
# the HSM, and runs the log on its embedded defaults (redb under .hallmark/data).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_rust
ensure_packages softhsm2 openssl

log "building hallmark (release)"
cargo build --release --locked -p hallmark-cli
export HALLMARK_BIN="$CARGO_TARGET_DIR/release/hallmark"

STATE="${HALLMARK_STATE_DIR:-$ROOT/.hallmark}"
# shellcheck source=/dev/null
source "$ROOT/hsm/init-token.sh" "$STATE/hsm"

"$HALLMARK_BIN" hsm keygen --key "pkcs11:token=hallmark;object=log-key" --if-missing >/dev/null
log "log key is in the HSM (token 'hallmark', object 'log-key'); running the log"
exec "$HALLMARK_BIN" demo --data "$STATE/data" "$@"
