#!/usr/bin/env bash
# The main job on a fresh Debian machine: installs what it needs, builds hallmark, initialises the
# SoftHSM token under .hallmark/hsm (random PINs in 0600 files), creates the CA (root and issuing
# keys generated inside the HSM, certificates under .hallmark/data/ca) and the CT log key on the
# first run, and serves the CA, its CT log and the signature log (Rekor v1 API) on
# http://127.0.0.1:3000 with embedded storage and the local development OIDC issuer; writes the
# Sigstore trust config to .hallmark/trust-config.json, ready for a first signature.
#
# Settings: HALLMARK_LISTEN, HALLMARK_PUBLIC_URL, HALLMARK_STATE_DIR, or a config file via
# HALLMARK_CONFIG (see crates/server/src/config.rs).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_rust
ensure_packages softhsm2 openssl

# The development issuer is a cargo feature: this local stack has it; a production build
# (`cargo build --release -p hallmark-cli`) does not.
log "building hallmark (release, with the development issuer)"
cargo build --release --locked -p hallmark-cli --features dev-oidc
export HALLMARK_BIN="$CARGO_TARGET_DIR/release/hallmark"

STATE="${HALLMARK_STATE_DIR:-$ROOT/.hallmark}"
# shellcheck source=/dev/null
source "$ROOT/hsm/init-token.sh" "$STATE/hsm"
# The CA root on a token of its own, with its own PIN: only `hallmark ca init` opens it; the
# server never has its PIN.
(HALLMARK_TOKEN_LABEL=hallmark-root HALLMARK_PIN_PREFIX=root- bash "$ROOT/hsm/init-token.sh" "$STATE/hsm")
export HALLMARK_DATA_DIR="$STATE/data"
# The development issuer, unless the caller brings a config file of their own (which then says
# whether it wants one; a variable contradicting the file is a start-up error).
if [ -z "${HALLMARK_CONFIG:-}" ]; then
  export HALLMARK_DEV_OIDC="${HALLMARK_DEV_OIDC:-1}"
fi

if [ ! -f "$HALLMARK_DATA_DIR/ca/root.pem" ]; then
  log "creating the CA (keys inside the HSM)"
  HALLMARK_ROOT_PKCS11_PIN_FILE="$STATE/hsm/root-user-pin" "$HALLMARK_BIN" ca init
else
  # A CA from an earlier run: add what this version serves and it lacks (the Rekor v2 log key,
  # the timestamp authority); changes nothing when all is there.
  HALLMARK_ROOT_PKCS11_PIN_FILE="$STATE/hsm/root-user-pin" "$HALLMARK_BIN" ca upgrade >/dev/null
fi

url="${HALLMARK_PUBLIC_URL:-http://${HALLMARK_LISTEN:-127.0.0.1:3000}}"
"$HALLMARK_BIN" trust-root --url "$url" --client-trust-config "$STATE/trust-config.json" \
  --trusted-root "$STATE/trusted_root.json"
cat >&2 <<MSG

Hallmark is starting on $url (CA: /api/v2/signingCert, CT log: /ct/v1/get-sth).
The development OIDC issuer is on: it mints tokens for anyone who asks. Never use it in production.

Sign and verify with hallmark itself, from another shell:
  export HALLMARK_TRUST_CONFIG=$STATE/trust-config.json
  echo hello > a.txt
  $HALLMARK_BIN sign a.txt      # prints a login URL: open it, type any email address
  $HALLMARK_BIN verify a.txt --cert-identity you@example.com --cert-oidc-issuer $url/dev-oidc
Without a browser (or in a script), mint the token yourself:
  $HALLMARK_BIN dev-oidc token --server $url --email you@example.com > token.jwt
  $HALLMARK_BIN sign --identity-token-file token.jwt a.txt

Or with an unmodified sigstore-python (pip install sigstore==4.5.1):
  TOKEN=\$($HALLMARK_BIN dev-oidc token --server $url --email you@example.com)
  echo hello > a.txt
  sigstore --trust-config $STATE/trust-config.json sign --identity-token \$TOKEN --bundle a.sigstore.json a.txt
  sigstore --trust-config $STATE/trust-config.json verify identity --offline --bundle a.sigstore.json \\
      --cert-identity you@example.com --cert-oidc-issuer $url/dev-oidc a.txt

Or get a bare certificate:
  TOKEN=\$($HALLMARK_BIN dev-oidc token --server $url --email you@example.com)
  openssl ecparam -genkey -name prime256v1 -noout -out key.pem
  openssl req -new -subj / -key key.pem | base64 -w0 > csr.b64
  curl -s -H "Authorization: Bearer \$TOKEN" -H 'content-type: application/json' \\
       -d "{\"certificateSigningRequest\":\"\$(cat csr.b64)\"}" $url/api/v2/signingCert

MSG
exec "$HALLMARK_BIN" serve "$@"
