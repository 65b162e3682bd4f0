#!/usr/bin/env bash
# Rekor v1 entries/s through one and through two front ends on one PostgreSQL database (issue 15):
# a private cluster started here (its own data directory and port on 127.0.0.1, as `nobody` when
# run as root), one SoftHSM token and CA, two `hallmark serve` replicas on them. The first run
# sends every entry to the sequencer; the second splits the same number of clients over the
# sequencer and the standby, which verifies its entries and hands them to the sequencer. Every
# answer's SET and inclusion proof is checked by the load generator (`hallmark bench log-api`).
#
#   tests/bench/replicas-postgres.sh     # run by hand, on a quiet machine; quoted in notes
#
# Settings (environment): CLIENTS (128, split in two for the second run), ENTRIES (20000 per
# run), HALLMARK_BIN (a release binary with --features dev-oidc; built if unset), KEEP=1 (keep
# the state directory: the replicas' logs).
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
cd "$ROOT"

CLIENTS=${CLIENTS:-128}
ENTRIES=${ENTRIES:-20000}

ensure_rust
ensure_packages softhsm2 openssl curl
ensure_postgres
if [ -z "${HALLMARK_BIN:-}" ]; then
  log "building hallmark (release, with the development issuer)"
  nice cargo build --release --locked -p hallmark-cli --features dev-oidc
  HALLMARK_BIN="$CARGO_TARGET_DIR/release/hallmark"
fi

STATE=$(mktemp -d /tmp/hallmark-replicas.XXXX)
chmod 755 "$STATE"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  stop_private_postgres "$STATE/pg"
  if [ "${KEEP:-}" = 1 ]; then log "state kept in $STATE"; else rm -rf "$STATE"; fi
}
trap cleanup EXIT

log "private PostgreSQL cluster in $STATE/pg"
(umask 077 && private_postgres "$STATE/pg" hallmark >"$STATE/pg-url")

# One token and CA for both replicas (they share the keys, as replicas on a network HSM do).
# shellcheck source=/dev/null
source "$ROOT/hsm/init-token.sh" "$STATE/hsm" >/dev/null
(HALLMARK_TOKEN_LABEL=hallmark-root HALLMARK_PIN_PREFIX=root- bash "$ROOT/hsm/init-token.sh" "$STATE/hsm") >/dev/null
export HALLMARK_DATA_DIR="$STATE/data" HALLMARK_DEV_OIDC=1
export HALLMARK_STORAGE=postgres HALLMARK_PG_URL_FILE="$STATE/pg-url"
HALLMARK_ROOT_PKCS11_PIN_FILE="$STATE/hsm/root-user-pin" "$HALLMARK_BIN" ca init >/dev/null

# start N: a replica on 127.0.0.1 and a free port; prints its URL once ready.
start() {
  local port url
  port=$(free_port)
  url="http://127.0.0.1:$port"
  HALLMARK_LISTEN="127.0.0.1:$port" HALLMARK_PUBLIC_URL="$url" \
    "$HALLMARK_BIN" serve >"$STATE/replica-$1.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 150); do
    curl -sf -o /dev/null "$url/readyz" && break
    sleep 0.2
  done
  echo "$url"
}
A=$(start a)
B=$(start b)
curl -sf "$A/readyz" | grep -q sequencer || { echo "replica a is not the sequencer" >&2; exit 1; }
curl -sf "$B/readyz" | grep -q standby || { echo "replica b is not a standby" >&2; exit 1; }
log "sequencer $A, standby $B"

rate() { awk '/^entries\/s/ { print $2; exit }' "$1"; }
log "one front end: $CLIENTS clients on the sequencer"
"$HALLMARK_BIN" bench log-api --api 1 --url "$A" --clients "$CLIENTS" --entries "$ENTRIES" | tee "$STATE/one.txt"
half=$((CLIENTS / 2))
log "two front ends: $half clients on each"
"$HALLMARK_BIN" bench log-api --api 1 --url "$A" --clients "$half" --entries $((ENTRIES / 2)) >"$STATE/two-a.txt" &
pa=$!
# The standby's development issuer is not the sequencer's: the load generator's certificate
# comes from the sequencer's CA (a token the sequencer trusts).
"$HALLMARK_BIN" bench log-api --api 1 --url "$B" --ca-url "$A" --clients "$half" --entries $((ENTRIES / 2)) >"$STATE/two-b.txt" &
pb=$!
wait "$pa" "$pb"
cat "$STATE/two-a.txt" "$STATE/two-b.txt"
echo
printf '%-48s %10s\n' "Rekor v1 on PostgreSQL" "entries/s"
printf '%-48s %10s\n' "one front end (the sequencer), $CLIENTS clients" "$(rate "$STATE/one.txt")"
printf '%-48s %10s\n' "two front ends, $half + $half clients" \
  "$(awk -v a="$(rate "$STATE/two-a.txt")" -v b="$(rate "$STATE/two-b.txt")" 'BEGIN { print a + b }')"
echo "(the two concurrent runs' rates added: each counts its own entries over its own time)"
