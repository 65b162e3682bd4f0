#!/usr/bin/env bash
# The auditor's benchmark (issue 13): `hallmark audit sync --full` over a Rekor v2 log of
# ENTRIES entries (default 1,000,000), the server on the same machine: entries per second for
# fetching the entry bundles, hashing every leaf and recomputing the root, for the whole
# command (start-up, the head's signature and consistency, every checkpoint compared).
#
#   tests/bench/audit-sync.sh            # run by hand, on a quiet machine; quoted in notes
#
# Settings (environment): ENTRIES (1000000), ROUND (200000 entries per `bench log-api` run:
# each run signs with one 10-minute certificate), CONCURRENCY (8 requests in flight),
# HALLMARK_BIN (a release binary with --features dev-oidc; built if unset), KEEP=1 (keep state).
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
cd "$ROOT"

ENTRIES=${ENTRIES:-1000000}
ROUND=${ROUND:-200000}
CONCURRENCY=${CONCURRENCY:-8}
PORT=3990
URL=http://127.0.0.1:$PORT

ensure_rust
ensure_packages softhsm2 openssl curl
if [ -z "${HALLMARK_BIN:-}" ]; then
  log "building hallmark (release, with the development issuer)"
  nice cargo build --release --locked -p hallmark-cli --features dev-oidc
  HALLMARK_BIN="$CARGO_TARGET_DIR/release/hallmark"
fi
export HALLMARK_BIN

STATE=$(mktemp -d /tmp/hallmark-audit-bench.XXXX)
PID=
cleanup() {
  [ -z "$PID" ] || { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
  if [ "${KEEP:-}" = 1 ]; then log "state kept in $STATE"; else rm -rf "$STATE"; fi
}
trap cleanup EXIT

# shellcheck source=/dev/null
source "$ROOT/hsm/init-token.sh" "$STATE/hsm" >/dev/null
(HALLMARK_TOKEN_LABEL=hallmark-root HALLMARK_PIN_PREFIX=root- bash "$ROOT/hsm/init-token.sh" "$STATE/hsm") >/dev/null
export HALLMARK_DATA_DIR="$STATE/data" HALLMARK_DEV_OIDC=1
export HALLMARK_LISTEN=127.0.0.1:$PORT HALLMARK_PUBLIC_URL=$URL
HALLMARK_ROOT_PKCS11_PIN_FILE="$STATE/hsm/root-user-pin" "$HALLMARK_BIN" ca init >/dev/null
"$HALLMARK_BIN" trust-root --url "$URL" --client-trust-config "$STATE/trust-config.json" >/dev/null
"$HALLMARK_BIN" serve >"$STATE/hallmark.log" 2>&1 &
PID=$!
for _ in $(seq 150); do curl -sf -o /dev/null "$URL/readyz" && break; sleep 0.2; done
curl -sf -o /dev/null "$URL/readyz" || { tail -n 20 "$STATE/hallmark.log" >&2; exit 1; }

log "filling the Rekor v2 log with $ENTRIES entries (not timed)"
left=$ENTRIES
while [ "$left" -gt 0 ]; do
  n=$((left < ROUND ? left : ROUND))
  "$HALLMARK_BIN" bench log-api --api 2 --url "$URL" --trust-config "$STATE/trust-config.json" \
    --clients 256 --entries "$n" | sed -n 's/^entries\/s/   fill: entries\/s/p'
  left=$((left - n))
done

T=(--trust-config "$STATE/trust-config.json" --state "$STATE/audit")
"$HALLMARK_BIN" audit sync "${T[@]}" --log v2 >/dev/null
echo "machine: $(nproc) cores; load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s.%N)
out=$("$HALLMARK_BIN" audit sync "${T[@]}" --log v2 --full --concurrency "$CONCURRENCY")
end=$(date +%s.%N)
echo "$out" | grep 'full sync' | sed 's/^/   /'
echo "$out" | grep -q "full sync: $ENTRIES entries recomputed" || { echo "the full sync did not cover $ENTRIES entries" >&2; exit 1; }
rate=$(awk -v n="$ENTRIES" -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", n / (e - s) }')
echo "audit sync --full: $ENTRIES entries, whole command, $rate entries/s"
