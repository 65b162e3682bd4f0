#!/usr/bin/env bash
# The log store's durable-append benchmark (issue 15), redb and PostgreSQL in one run on this
# machine: `hallmark bench log` (the group-commit sequencer, in-process, ENTRIES entries of
# ENTRY_BYTES bytes from CLIENTS concurrent clients, every append acknowledged only after its
# batch is committed) against the embedded store, then against a private PostgreSQL cluster
# started here (its own data directory and port on 127.0.0.1, fsync and synchronous_commit on,
# as `nobody` when run as root), which is stopped and removed afterwards.
#
#   tests/bench/log-postgres.sh          # run by hand, on a quiet machine; quoted in notes
#
# Settings (environment): ENTRIES (200000), CLIENTS (256), ENTRY_BYTES (500), PG_POOL (8),
# HALLMARK_BIN (a release binary; built if unset), KEEP=1 (keep the cluster's directory).
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
cd "$ROOT"

ENTRIES=${ENTRIES:-200000}
CLIENTS=${CLIENTS:-256}
ENTRY_BYTES=${ENTRY_BYTES:-500}
PG_POOL=${PG_POOL:-8}

ensure_rust
ensure_postgres
if [ -z "${HALLMARK_BIN:-}" ]; then
  log "building hallmark (release)"
  nice cargo build --release --locked -p hallmark-cli --bin hallmark
  HALLMARK_BIN="$CARGO_TARGET_DIR/release/hallmark"
fi

STATE=$(mktemp -d /tmp/hallmark-pg-bench.XXXX)
cleanup() {
  stop_private_postgres "$STATE/pg"
  if [ "${KEEP:-}" = 1 ]; then log "cluster kept in $STATE"; else rm -rf "$STATE"; fi
}
trap cleanup EXIT

log "private PostgreSQL cluster in $STATE/pg"
URL=$(private_postgres "$STATE/pg" hallmark_bench)
export HALLMARK_BENCH_PG_URL="$URL"

log "redb"
nice "$HALLMARK_BIN" bench log --store redb --entries "$ENTRIES" --clients "$CLIENTS" --entry-bytes "$ENTRY_BYTES"
log "postgres"
nice "$HALLMARK_BIN" bench log --store postgres --pg-url-env HALLMARK_BENCH_PG_URL --pg-pool "$PG_POOL" \
  --entries "$ENTRIES" --clients "$CLIENTS" --entry-bytes "$ENTRY_BYTES"
