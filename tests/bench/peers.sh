#!/usr/bin/env bash
# Hallmark and its Go peers side by side, in one run on this machine (issue 12): the same load
# generator (`hallmark bench ...`), the same load, one service after the other, and a table of
# rates, p99 latencies and Hallmark's rate as a ratio of the peer's.
#
#   tests/bench/peers.sh            # run by hand; its output is quoted in issue notes
#
#   operation         Hallmark                                  peer
#   Rekor v2 entries  POST /api/v2/log/entries, every answer's    rekor-tiles (POSIX Tessera backend,
#                     proof and signed checkpoint checked         P-256 file signer), same checks
#   certificates      POST /api/v2/signingCert (+ SCT, CT log)    Fulcio, pkcs11ca on a SoftHSM token
#   timestamps        POST /api/v1/timestamp (HSM key)            Sigstore timestamp-authority (memory
#                                                                 signer: it has no PKCS#11 signer)
#   Rekor v1 entries  POST /api/v1/log/entries, a SET signed in   the hardware limit instead: raw
#                     the HSM per entry; every answer's SET and   SoftHSM C_Sign on one session,
#                     proof checked                               measured just before (Rekor v1
#                                                                 itself needs Trillian and MySQL)
#
# The peers are built once with `go install` at pinned versions into .tools/peers/ (under nice),
# from the Go module proxy. Hallmark is built in release mode with the development issuer, which
# mints the tokens for Fulcio as well (Fulcio trusts it as an email OIDC issuer), and its CA
# certifies the rekor-tiles entries' key (rekor-tiles does not chain-validate certificates).
# Every service listens on loopback only, except the timestamp-authority's metrics server, which
# binds :2112 with no flag to change it; each peer runs only while it is measured.
#
# Settings (environment):
#   LOG_CLIENTS "128 1024"   concurrent clients, one table row each, for the log (empty: no log rows)
#   V1_CLIENTS 256           concurrent clients, one row each, for the Rekor v1 log (empty: no rows)
#   ENTRIES 20000            entries per log run
#   CA_CLIENTS 64, SECS 10   concurrent clients and seconds per certificate run
#   TSA_CLIENTS 64           concurrent clients per timestamp run (`hallmark bench tsa`)
#   ROUNDS 3                 certificate and timestamp runs alternate Hallmark and the peer this
#                            many times; the table shows each side's best round (other work on a
#                            shared machine only ever slows a round down). Every round is printed.
#                            The log rows run once: rekor-tiles' rate is set by its 1 s poll.
#   REKOR_TILES_FLAGS        rekor-tiles batching (default: checkpoints every 100 ms, the POSIX
#                            backend's minimum, and batches sent after 10 ms; its compose file
#                            uses 2 s checkpoints). rekor-tiles answers a write once it sees the
#                            entry in a published checkpoint, and it looks every 1 s (a constant in
#                            v2.3.0), so a closed loop gets about CLIENTS entries/s from it at most:
#                            hence a row with many clients.
#   HALLMARK_BIN             use this binary (with --features dev-oidc) instead of building one
#   GOTOOLCHAIN              passed to go install (the pinned versions build on go1.26)
#   KEEP=1                   keep the state directory (logs, keys, tiles) for a look afterwards
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
cd "$ROOT"

REKOR_TILES_VERSION=v2.3.0
TSA_VERSION=v2.1.3
FULCIO_VERSION=v1.8.8
LOG_CLIENTS=${LOG_CLIENTS-128 1024}
V1_CLIENTS=${V1_CLIENTS-256}
ENTRIES=${ENTRIES:-20000}
CA_CLIENTS=${CA_CLIENTS:-64}
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-10}
TSA_CLIENTS=${TSA_CLIENTS:-64}
REKOR_TILES_FLAGS=${REKOR_TILES_FLAGS:---checkpoint-interval=100ms --batch-max-age=10ms}
HM_PORT=3950 RT_PORT=3960 TSA_PORT=3970 FULCIO_PORT=3980
HM=http://127.0.0.1:$HM_PORT

ensure_rust
ensure_packages softhsm2 openssl curl
command -v go >/dev/null || {
  echo "go not found: install Go (1.26 or newer) to build the peers" >&2
  exit 1
}

STATE=$(mktemp -d /tmp/hallmark-peers.XXXX)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${KEEP:-}" = 1 ]; then log "state kept in $STATE"; else rm -rf "$STATE"; fi
}
trap cleanup EXIT

# stop PID: ends one service this script started.
stop() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# wait_ready URL LOG: polls URL until it answers, or fails pointing at LOG.
wait_ready() {
  for _ in $(seq 150); do
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.2
  done
  echo "no answer from $1; its log: $2" >&2
  tail -n 20 "$2" >&2
  return 1
}

# ensure_peer NAME PACKAGE@VERSION BINARY: builds a peer once into .tools/peers/NAME-VERSION and
# prints the binary's path; on failure prints nothing and leaves the error in $STATE/build-NAME.log.
ensure_peer() {
  local name=$1 pkg=$2 bin=$3 dir
  dir="$ROOT/.tools/peers/$name-${pkg##*@}"
  if [ ! -x "$dir/$bin" ]; then
    log "building $pkg (go install, once)"
    if ! GOBIN="$dir" CGO_ENABLED=1 GOFLAGS=-mod=mod nice go install "$pkg" >"$STATE/build-$name.log" 2>&1; then
      log "building $name failed: $(tail -n 3 "$STATE/build-$name.log")"
      return 0
    fi
  fi
  echo "$dir/$bin"
}

# Results: one line per row, "operation|hallmark rate|hallmark p99|peer|peer rate|peer p99".
ROWS=()
# measure LABEL OUT CMD...: runs a load generator, keeps its output in OUT, prints "rate p99".
# A run with failed requests still has a rate: it is marked "!" and its count and first failure
# go to the notes printed under the table; a run with no rate at all prints "failed".
measure() {
  local label=$1 out=$2 rate p99 failed
  shift 2
  echo "   load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  "$@" >"$out" 2>&1 || true
  sed 's/^/   /' "$out" >&2
  rate=$(awk '$1 ~ /\/s$/ && $2 ~ /^[0-9.]+$/ { print $2; exit }' "$out")
  p99=$(sed -n 's|^latency p50/p99 *[0-9.]* ms / \([0-9.]*\) ms.*|\1|p' "$out" | head -n 1)
  failed=$(sed -n 's/.*failures: \([0-9]*\)).*/\1/p' "$out" | head -n 1)
  if [ -z "$rate" ]; then
    echo "! $label: no result, see the output above" >>"$STATE/notes"
    echo "failed -"
  elif [ "${failed:-0}" != 0 ]; then
    echo "! $label: $failed requests failed; $(grep -m1 '^first failure' "$out" || true)" >>"$STATE/notes"
    echo "$rate! ${p99:--}"
  else
    echo "$rate ${p99:--}"
  fi
}

# best RATES: of "rate p99" lines, the one with the highest rate.
best() {
  sort -g -r -k1,1 "$1" | head -n 1
}

# ---- Hallmark ----------------------------------------------------------------------------------
if [ -z "${HALLMARK_BIN:-}" ]; then
  log "building hallmark (release, with the development issuer)"
  nice cargo build --release --locked -p hallmark-cli --features dev-oidc
  HALLMARK_BIN="$CARGO_TARGET_DIR/release/hallmark"
fi
export HALLMARK_BIN

log "building the peers"
REKOR_TILES_BIN=$(ensure_peer rekor-tiles "github.com/sigstore/rekor-tiles/v2/cmd/rekor-server/posix@$REKOR_TILES_VERSION" posix)
TSA_BIN=$(ensure_peer timestamp-authority "github.com/sigstore/timestamp-authority/v2/cmd/timestamp-server@$TSA_VERSION" timestamp-server)
FULCIO_BIN=$(ensure_peer fulcio "github.com/sigstore/fulcio@$FULCIO_VERSION" fulcio)

log "starting Hallmark on $HM (state in $STATE)"
# shellcheck source=/dev/null
source "$ROOT/hsm/init-token.sh" "$STATE/hsm" >/dev/null
(HALLMARK_TOKEN_LABEL=hallmark-root HALLMARK_PIN_PREFIX=root- bash "$ROOT/hsm/init-token.sh" "$STATE/hsm") >/dev/null
(
  export HALLMARK_DATA_DIR="$STATE/data" HALLMARK_DEV_OIDC=1
  export HALLMARK_LISTEN=127.0.0.1:$HM_PORT HALLMARK_PUBLIC_URL=$HM
  HALLMARK_ROOT_PKCS11_PIN_FILE="$STATE/hsm/root-user-pin" "$HALLMARK_BIN" ca init >/dev/null
  "$HALLMARK_BIN" trust-root --url "$HM" --client-trust-config "$STATE/trust-config.json" \
    --trusted-root "$STATE/trusted_root.json" >/dev/null
  exec "$HALLMARK_BIN" serve >"$STATE/hallmark.log" 2>&1
) &
PIDS+=($!)
wait_ready "$HM/readyz" "$STATE/hallmark.log"

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo);" \
  "hallmark $("$HALLMARK_BIN" --version | awk '{print $2}'), rekor-tiles $REKOR_TILES_VERSION," \
  "timestamp-authority $TSA_VERSION, fulcio $FULCIO_VERSION; load generators and services share the cores"
log "raw SoftHSM signing rate (context for the HSM-bound rows)"
"$HALLMARK_BIN" bench hsm --key "pkcs11:token=hallmark;object=bench-key" --seconds 3 | sed 's/^/   /'

# ---- Rekor v2: Hallmark against rekor-tiles -----------------------------------------------------
RT_PID=
if [ -n "$REKOR_TILES_BIN" ]; then
  log "starting rekor-tiles $REKOR_TILES_VERSION (POSIX backend) on 127.0.0.1:$RT_PORT"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$STATE/rekor-tiles-key.pem" 2>/dev/null
  openssl pkey -in "$STATE/rekor-tiles-key.pem" -pubout -out "$STATE/rekor-tiles-pub.pem"
  # shellcheck disable=SC2086 # REKOR_TILES_FLAGS is a list of flags
  "$REKOR_TILES_BIN" serve --hostname rekor-tiles.local --storage-dir "$STATE/rekor-tiles" \
    --signer-filepath "$STATE/rekor-tiles-key.pem" \
    --http-address 127.0.0.1 --http-port "$RT_PORT" --grpc-address 127.0.0.1 --grpc-port $((RT_PORT + 1)) \
    --http-metrics-port $((RT_PORT + 2)) --log-level warn $REKOR_TILES_FLAGS \
    >"$STATE/rekor-tiles.log" 2>&1 &
  RT_PID=$!
  PIDS+=("$RT_PID")
  wait_ready "http://127.0.0.1:$RT_PORT/healthz" "$STATE/rekor-tiles.log" || RT_PID=
fi
for clients in $LOG_CLIENTS; do
  op="Rekor v2 entries/s, $clients clients"
  log "$op: Hallmark"
  read -r hr hp < <(measure "$op, Hallmark" "$STATE/log-hallmark-$clients.txt" "$HALLMARK_BIN" bench log-api --api 2 \
    --url "$HM" --trust-config "$STATE/trust-config.json" --clients "$clients" --entries "$ENTRIES")
  if [ -n "$RT_PID" ]; then
    log "$op: rekor-tiles"
    read -r pr pp < <(measure "$op, rekor-tiles" "$STATE/log-rekor-tiles-$clients.txt" "$HALLMARK_BIN" bench log-api --api 2 \
      --url "http://127.0.0.1:$RT_PORT" --ca-url "$HM" --log-key "$STATE/rekor-tiles-pub.pem" \
      --origin rekor-tiles.local --clients "$clients" --entries "$ENTRIES")
  else
    pr="not-run" pp=-
  fi
  ROWS+=("$op|$hr|$hp|rekor-tiles $REKOR_TILES_VERSION|$pr|$pp")
done
[ -z "$RT_PID" ] || stop "$RT_PID"

# ---- Rekor v1: Hallmark against the raw HSM signing rate ----------------------------------------
# Each v1 entry costs one HSM signature (its SET), so the limit is SoftHSM's own rate: measured on
# the same token right before each run, and the ratio is Hallmark's rate over it.
for clients in $V1_CLIENTS; do
  op="Rekor v1 entries/s, $clients clients"
  raw=$("$HALLMARK_BIN" bench hsm --key "pkcs11:token=hallmark;object=bench-key" --seconds 3 |
    awk '/^raw C_Sign/ { print $(NF - 1); exit }')
  log "$op: Hallmark (raw C_Sign just before: ${raw:-unknown}/s)"
  read -r hr hp < <(measure "$op, Hallmark" "$STATE/log-v1-$clients.txt" "$HALLMARK_BIN" bench log-api --api 1 \
    --url "$HM" --clients "$clients" --entries "$ENTRIES")
  ROWS+=("$op|$hr|$hp|raw SoftHSM C_Sign, 1 session|${raw:-failed}|-")
done

# ---- Certificates: Hallmark against Fulcio (pkcs11ca on SoftHSM) --------------------------------
op="certificates/s, $CA_CLIENTS clients"
FULCIO_PID=
if [ -n "$FULCIO_BIN" ]; then
  log "starting Fulcio $FULCIO_VERSION (pkcs11ca on a SoftHSM token) on 127.0.0.1:$FULCIO_PORT"
  # Its own token in the same SoftHSM, with its own PIN; the key pair labelled PKCS11CA (the name
  # `fulcio createca` and pkcs11ca look for), its self-signed root stored on the token by createca.
  (HALLMARK_TOKEN_LABEL=fulcio HALLMARK_PIN_PREFIX=fulcio- bash "$ROOT/hsm/init-token.sh" "$STATE/hsm") >/dev/null
  HALLMARK_PKCS11_PIN_FILE="$STATE/hsm/fulcio-user-pin" "$HALLMARK_BIN" hsm keygen \
    --key "pkcs11:token=fulcio;object=PKCS11CA" >/dev/null
  (
    umask 077
    printf '{"Path": "%s", "TokenLabel": "fulcio", "Pin": "%s"}\n' \
      "$HALLMARK_PKCS11_MODULE" "$(cat "$STATE/hsm/fulcio-user-pin")" >"$STATE/crypto11.json"
  )
  printf '{"OIDCIssuers": {"%s": {"IssuerURL": "%s", "ClientID": "sigstore", "Type": "email"}}}\n' \
    "$HM/dev-oidc" "$HM/dev-oidc" >"$STATE/fulcio-config.json"
  if "$FULCIO_BIN" createca --pkcs11-config-path "$STATE/crypto11.json" --hsm-caroot-id 99 \
    --org "Fulcio bench" --out "$STATE/fulcio-root.pem" >"$STATE/fulcio-createca.log" 2>&1; then
    # No CT log: Fulcio then issues without an SCT (Hallmark's certificates carry one).
    "$FULCIO_BIN" serve --ca pkcs11ca --hsm-caroot-id 99 --pkcs11-config-path "$STATE/crypto11.json" \
      --config-path "$STATE/fulcio-config.json" --ct-log-url= \
      --host 127.0.0.1 --port "$FULCIO_PORT" --grpc-host 127.0.0.1 --grpc-port $((FULCIO_PORT + 1)) \
      --metrics-port $((FULCIO_PORT + 2)) --log_type prod >"$STATE/fulcio.log" 2>&1 &
    FULCIO_PID=$!
    PIDS+=("$FULCIO_PID")
    wait_ready "http://127.0.0.1:$FULCIO_PORT/api/v2/trustBundle" "$STATE/fulcio.log" || FULCIO_PID=
  else
    log "fulcio createca failed: $(tail -n 3 "$STATE/fulcio-createca.log")"
  fi
fi
for r in $(seq "$ROUNDS"); do
  log "$op, round $r: Hallmark"
  measure "$op, Hallmark, round $r" "$STATE/ca-hallmark-$r.txt" "$HALLMARK_BIN" bench ca --url "$HM" \
    --clients "$CA_CLIENTS" --seconds "$SECS" >>"$STATE/ca-hallmark.rates"
  if [ -n "$FULCIO_PID" ]; then
    log "$op, round $r: Fulcio"
    measure "$op, Fulcio, round $r" "$STATE/ca-fulcio-$r.txt" "$HALLMARK_BIN" bench ca \
      --url "http://127.0.0.1:$FULCIO_PORT" --issuer-url "$HM" --clients "$CA_CLIENTS" --seconds "$SECS" \
      >>"$STATE/ca-fulcio.rates"
  fi
done
read -r hr hp < <(best "$STATE/ca-hallmark.rates")
if [ -n "$FULCIO_PID" ]; then
  read -r pr pp < <(best "$STATE/ca-fulcio.rates")
  stop "$FULCIO_PID"
else
  pr="not-run" pp=-
fi
ROWS+=("$op, best of $ROUNDS|$hr|$hp|fulcio $FULCIO_VERSION pkcs11ca|$pr|$pp")

# ---- Timestamps: Hallmark against the Sigstore timestamp-authority ------------------------------
op="timestamps/s, $TSA_CLIENTS clients"
TSA_PID=
if [ -n "$TSA_BIN" ]; then
  log "starting timestamp-authority $TSA_VERSION (memory signer) on 127.0.0.1:$TSA_PORT"
  "$TSA_BIN" serve --host 127.0.0.1 --port "$TSA_PORT" --timestamp-signer memory \
    --disable-ntp-monitoring --log-type prod >"$STATE/timestamp-authority.log" 2>&1 &
  TSA_PID=$!
  PIDS+=("$TSA_PID")
  if wait_ready "http://127.0.0.1:$TSA_PORT/api/v1/timestamp/certchain" "$STATE/timestamp-authority.log"; then
    # One timestamp by hand, checked by openssl against the served chain: the peer works.
    echo peers >"$STATE/tsa-data"
    curl -sf "http://127.0.0.1:$TSA_PORT/api/v1/timestamp/certchain" >"$STATE/tsa-chain.pem"
    openssl ts -query -data "$STATE/tsa-data" -sha256 -cert -out "$STATE/tsa.tsq" 2>/dev/null
    curl -sf -H 'content-type: application/timestamp-query' --data-binary "@$STATE/tsa.tsq" \
      "http://127.0.0.1:$TSA_PORT/api/v1/timestamp" -o "$STATE/tsa.tsr"
    openssl ts -verify -in "$STATE/tsa.tsr" -queryfile "$STATE/tsa.tsq" -CAfile "$STATE/tsa-chain.pem" 2>&1 | sed 's/^/   timestamp-authority smoke test: /' >&2
  else
    TSA_PID=
  fi
fi
if "$HALLMARK_BIN" bench tsa --help >/dev/null 2>&1; then
  for r in $(seq "$ROUNDS"); do
    log "$op, round $r: Hallmark"
    # With Hallmark's settings: the raw C_Sign rate and the in-process figures come first, in the
    # same run, then the HTTP figure the table shows.
    measure "$op, Hallmark, round $r" "$STATE/tsa-hallmark-$r.txt" env HALLMARK_DATA_DIR="$STATE/data" \
      HALLMARK_DEV_OIDC=1 "$HALLMARK_BIN" bench tsa --url "$HM" \
      --clients "$TSA_CLIENTS" --seconds "$SECS" >>"$STATE/tsa-hallmark.rates"
    if [ -n "$TSA_PID" ]; then
      log "$op, round $r: timestamp-authority"
      measure "$op, timestamp-authority, round $r" "$STATE/tsa-peer-$r.txt" "$HALLMARK_BIN" bench tsa \
        --http-only --url "http://127.0.0.1:$TSA_PORT" --clients "$TSA_CLIENTS" --seconds "$SECS" >>"$STATE/tsa-peer.rates"
    fi
  done
  read -r hr hp < <(best "$STATE/tsa-hallmark.rates")
  if [ -n "$TSA_PID" ]; then
    read -r pr pp < <(best "$STATE/tsa-peer.rates")
  else
    pr="not-run" pp=-
  fi
  op="$op, best of $ROUNDS"
else
  log "this hallmark has no 'bench tsa': the timestamp row is not measured"
  hr="no-bench-tsa" hp=- pr="no-bench-tsa" pp=-
fi
[ -z "$TSA_PID" ] || stop "$TSA_PID"
ROWS+=("$op|$hr|$hp|timestamp-authority $TSA_VERSION|$pr|$pp")

# ---- The table ----------------------------------------------------------------------------------
echo
printf '%-40s %12s %10s   %-30s %12s %10s %8s\n' operation "Hallmark /s" "p99 ms" peer "peer /s" "p99 ms" ratio
for row in "${ROWS[@]}"; do
  IFS='|' read -r op hr hp peer pr pp <<<"$row"
  ratio=$(awk -v h="$hr" -v p="$pr" 'BEGIN { if (h + 0 > 0 && p + 0 > 0) printf "%.2fx", h / p; else print "-" }')
  printf '%-40s %12s %10s   %-30s %12s %10s %8s\n' "$op" "$hr" "$hp" "$peer" "$pr" "$pp" "$ratio"
done
echo "ratio = Hallmark's rate / the peer's rate, same load generator and load, one after the other"
echo "(for Rekor v1: / the raw HSM signing rate measured just before)."
[ ! -s "$STATE/notes" ] || cat "$STATE/notes"
