#!/usr/bin/env bash
# Two builds side by side in one run: starts a throwaway stack (SoftHSM tokens, CA, development
# issuer) for each binary, then alternates `hallmark bench ca` and `hallmark bench log-api`
# between them, ROUNDS times. Compare the pairs of a round, not absolute numbers: on a shared
# machine the same binary moves by ±20% from round to round, and both stacks share the cores.
#
#   scripts/bench-compare.sh BEFORE_BIN AFTER_BIN
#
# Both binaries need the development issuer (`cargo build --release -p hallmark-cli --features
# dev-oidc`). Settings: ROUNDS (4), SECS per `bench ca` (8), ENTRIES per `bench log-api` (20000).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ $# -eq 2 ] || { echo "usage: $0 BEFORE_BIN AFTER_BIN" >&2; exit 2; }
ROUNDS=${ROUNDS:-4}
STATES=()
PIDS=()
cleanup() {
  [ ${#PIDS[@]} -eq 0 ] || kill "${PIDS[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  [ ${#STATES[@]} -eq 0 ] || rm -rf "${STATES[@]}"
}
trap cleanup EXIT

start_stack() { # BIN PORT
  local bin=$1 port=$2 state
  state=$(mktemp -d /tmp/hallmark-bench.XXXX)
  STATES+=("$state")
  (
    export HALLMARK_BIN=$bin
    # shellcheck source=/dev/null
    source "$ROOT/hsm/init-token.sh" "$state/hsm" >/dev/null
    (HALLMARK_TOKEN_LABEL=hallmark-root HALLMARK_PIN_PREFIX=root- bash "$ROOT/hsm/init-token.sh" "$state/hsm") >/dev/null
    export HALLMARK_DATA_DIR="$state/data" HALLMARK_DEV_OIDC=1
    export HALLMARK_LISTEN=127.0.0.1:$port HALLMARK_PUBLIC_URL=http://127.0.0.1:$port
    HALLMARK_ROOT_PKCS11_PIN_FILE="$state/hsm/root-user-pin" "$bin" ca init >/dev/null
    exec "$bin" serve >"$state/serve.log" 2>&1
  ) &
  PIDS+=($!)
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && return 0
    sleep 0.2
  done
  echo "the stack for $bin did not become ready; see $state/serve.log" >&2
  return 1
}

start_stack "$1" 3931
start_stack "$2" 3932
for r in $(seq "$ROUNDS"); do
  for side in "before $1 3931" "after $2 3932"; do
    read -r name bin port <<<"$side"
    echo "== round $r, $name: bench ca"
    "$bin" bench ca --url "http://127.0.0.1:$port" --seconds "${SECS:-8}" | grep -E "certificates/s|latency"
  done
  for side in "before $1 3931" "after $2 3932"; do
    read -r name bin port <<<"$side"
    echo "== round $r, $name: bench log-api"
    "$bin" bench log-api --url "http://127.0.0.1:$port" --entries "${ENTRIES:-20000}" | grep -E "entries/s|latency"
  done
done
