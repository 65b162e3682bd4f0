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

PGBIN=$(dirname "$(readlink -f "$(command -v initdb || compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -1)")")
STATE=$(mktemp -d /tmp/hallmark-pg-bench.XXXX)
AS=()
if [ "$(id -u)" -eq 0 ]; then
  chown nobody: "$STATE"
  AS=(runuser -u nobody --)
fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cleanup() {
  "${AS[@]}" "$PGBIN/pg_ctl" -D "$STATE/data" -m fast -w stop >/dev/null 2>&1 || true
  if [ "${KEEP:-}" = 1 ]; then log "cluster kept in $STATE"; else rm -rf "$STATE"; fi
}
trap cleanup EXIT

log "private PostgreSQL cluster on 127.0.0.1:$PORT ($PGBIN)"
"${AS[@]}" "$PGBIN/initdb" -D "$STATE/data" -A trust -U postgres -E UTF8 --locale=C >/dev/null
"${AS[@]}" "$PGBIN/pg_ctl" -D "$STATE/data" -l "$STATE/server.log" -w \
  -o "-p $PORT -h 127.0.0.1 -k $STATE -c fsync=on -c synchronous_commit=on -c max_wal_size=4GB" start >/dev/null
"${AS[@]}" "$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -qc 'CREATE DATABASE hallmark_bench' postgres
export HALLMARK_BENCH_PG_URL="postgresql://postgres@127.0.0.1:$PORT/hallmark_bench?sslmode=disable"

log "redb"
nice "$HALLMARK_BIN" bench log --store redb --entries "$ENTRIES" --clients "$CLIENTS" --entry-bytes "$ENTRY_BYTES"
log "postgres"
nice "$HALLMARK_BIN" bench log --store postgres --pg-url-env HALLMARK_BENCH_PG_URL --pg-pool "$PG_POOL" \
  --entries "$ENTRIES" --clients "$CLIENTS" --entry-bytes "$ENTRY_BYTES"
