#!/usr/bin/env bash
# `hallmark intoto run` overhead over the bare command for a step with 10,000 products, beside
# the hardware's hashing limit and stock in-toto-run, in one run:
#   scripts/bench-intoto-run.sh [HALLMARK_BIN] [FILES] [KIB]
# Makes FILES files of KIB KiB in a temporary directory, then times (best of 5, warm page
# cache): the bare command; reading the files with `cat` (the I/O limit); `sha256sum` over the files (one core, the reference hash speed);
# `hallmark intoto run --key` recording them as products (classic key: no server needed, so
# only recording and signing are measured); and stock `in-toto-run` from the venv, if present.
# With root, also the cold-cache case (page cache dropped before each run).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$(realpath "${1:-$ROOT/target/release/hallmark}")"
FILES="${2:-10000}"
KIB="${3:-8}"
PY="${HALLMARK_PYTHON:-$ROOT/.venv/bin/python}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tree"
"$PY" - "$work" "$FILES" "$KIB" <<'PY'
import os, sys
from cryptography.hazmat.primitives import serialization as s
from cryptography.hazmat.primitives.asymmetric import ed25519
work, files, kib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(files):
    d = os.path.join(work, "tree", f"d{i % 100:02d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i}.bin"), "wb") as f:
        f.write(os.urandom(kib * 1024))
k = ed25519.Ed25519PrivateKey.generate()
open(os.path.join(work, "key.pem"), "wb").write(
    k.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()))
PY
best() { # best wall time of 5 runs of "$@", in ms
  local b=""
  for _ in 1 2 3 4 5; do
    [ "${COLD:-0}" = 1 ] && { sync; echo 3 > /proc/sys/vm/drop_caches; }
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null 2>"$work/err" || { echo "failed: $* ($(cat "$work/err"))" >&2; exit 1; }
    t1=$(date +%s%N)
    local ms=$(( (t1 - t0) / 1000000 ))
    if [ -z "$b" ] || [ "$ms" -lt "$b" ]; then b=$ms; fi
  done
  echo "$b"
}
cd "$work/tree"
report() {
  local bare cat sha hm it
  bare=$(best true)
  cat=$(best sh -c 'find . -type f -print0 | xargs -0 cat > /dev/null')
  sha=$(best sh -c 'find . -type f -print0 | xargs -0 sha256sum')
  hm=$(best "$BIN" intoto run -n bench -p . --key ../key.pem -d "$work" --overwrite -- true)
  echo "$1: $FILES files of $KIB KiB"
  echo "  bare command (true)          ${bare} ms"
  echo "  reading the files (cat)      ${cat} ms (the disk or page-cache limit)"
  echo "  sha256sum over the files     ${sha} ms (one core)"
  echo "  hallmark intoto run --key    ${hm} ms  = $(awk "BEGIN{printf \"%.2f\", $hm/$sha}") x sha256sum, $(awk "BEGIN{printf \"%.2f\", $hm/$cat}") x reading"
  if [ -x "$(dirname "$PY")/in-toto-run" ]; then
    it=$(best "$(dirname "$PY")/in-toto-run" -n bench -p . --signing-key ../key.pem -d "$work" -- true)
    echo "  stock in-toto-run            ${it} ms  = $(awk "BEGIN{printf \"%.2f\", $it/$hm}") x hallmark"
  fi
}
report "warm page cache"
if [ "$(id -u)" = 0 ] && [ -w /proc/sys/vm/drop_caches ]; then
  COLD=1 report "cold page cache"
fi
