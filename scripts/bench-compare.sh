#!/usr/bin/env bash
# Two builds side by side in one run: starts a throwaway stack (SoftHSM tokens, CA, development
# issuer) for each binary, then alternates `hallmark bench ca` and `hallmark bench log-api`
# between them, ROUNDS times. Compare the pairs of a round, not absolute numbers: on a shared
# machine the same binary moves by ±20% from round to round, and both stacks share the cores.
#
#   scripts/bench-compare.sh BEFORE_BIN AFTER_BIN
#
# Both binaries need the development issuer (`cargo build --release -p hallmark-cli --features
# dev-oidc`). Settings: ROUNDS (4), SECS per `bench ca` (8), ENTRIES per `bench log-api` (20000),
# HSM=1 to have each benchmark measure its HSM ceiling on its stack's token (`--hsm-key`) and
# print the ratio.
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
    # The token's settings, for the benchmarks' HSM ceiling (file names, never PINs).
    env | grep -E '^(SOFTHSM2_CONF|HALLMARK_PKCS11_MODULE|HALLMARK_PKCS11_PIN_FILE)=' >"$state/hsm.env"
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

# Runs `hallmark bench ARGS...` with BIN against the stack on PORT (state dir STATE), with the
# HSM ceiling when HSM=1.
bench() { # BIN STATE ARGS...
  local bin=$1 state=$2
  shift 2
  (
    if [ "${HSM:-0}" = 1 ]; then
      set -a
      # shellcheck source=/dev/null
      source "$state/hsm.env"
      set +a
      set -- "$@" --hsm-key 'pkcs11:token=hallmark;object=bench-key'
    fi
    "$bin" bench "$@"
  )
}

start_stack "$1" 3931
start_stack "$2" 3932
sides=("before $1 3931 ${STATES[0]}" "after $2 3932 ${STATES[1]}")
for r in $(seq "$ROUNDS"); do
  for side in "${sides[@]}"; do
    read -r name bin port state <<<"$side"
    echo "== round $r, $name: bench ca"
    bench "$bin" "$state" ca --url "http://127.0.0.1:$port" --seconds "${SECS:-8}" |
      grep -E "certificates/s|latency|ceiling|ratio"
  done
  for side in "${sides[@]}"; do
    read -r name bin port state <<<"$side"
    echo "== round $r, $name: bench log-api"
    bench "$bin" "$state" log-api --url "http://127.0.0.1:$port" --entries "${ENTRIES:-20000}" |
      grep -E "entries/s|latency|ceiling|ratio"
  done
done
