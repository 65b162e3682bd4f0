#!/usr/bin/env bash
# `hallmark intoto verify` beside stock `in-toto-verify` (in-toto 3.1.0, the peer) on the same
# supply chain, in one run:
#   scripts/bench-intoto-verify.sh [HALLMARK_BIN] [STEPS] [FILES]
# A chain of STEPS steps (default 4) each recording FILES artifacts (default 10,000) as
# materials and products, every step's materials matched against the previous step's products
# (MATCH * WITH PRODUCTS FROM <previous>), links signed with an Ed25519 key by
# `hallmark intoto run --key`, the layout by `hallmark intoto sign-layout --key`. Prints the
# best of 3 wall times of each verifier (warm page cache) and their ratio.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$(realpath "${1:-$ROOT/target/release/hallmark}")"
STEPS="${2:-4}"
FILES="${3:-10000}"
PY="${HALLMARK_PYTHON:-$ROOT/.venv/bin/python}"
VENV_BIN="$(dirname "$PY")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
"$PY" - "$work" "$FILES" "$STEPS" <<'PY'
import json, os, sys
from cryptography.hazmat.primitives import serialization as s
from cryptography.hazmat.primitives.asymmetric import ed25519
from securesystemslib.signer import SSlibKey
work, files, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(files):
    d = os.path.join(work, "tree", f"d{i % 100:02d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i}.bin"), "wb") as f:
        f.write(os.urandom(512))
keys = {}
for name in ["owner", "func"]:
    k = ed25519.Ed25519PrivateKey.generate()
    open(f"{work}/{name}.pem", "wb").write(
        k.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()))
    open(f"{work}/{name}.pub", "wb").write(
        k.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))
    keys[name] = SSlibKey.from_crypto(k.public_key())
func = keys["func"]
step_list = []
for i in range(steps):
    materials = [] if i == 0 else [["MATCH", "*", "WITH", "PRODUCTS", "FROM", f"s{i - 1}"], ["DISALLOW", "*"]]
    step_list.append({"_type": "step", "name": f"s{i}", "pubkeys": [func.keyid], "threshold": 1,
                      "expected_command": [], "expected_materials": materials,
                      "expected_products": [["ALLOW", "*"]]})
key = func.to_dict(); key["keyid"] = func.keyid
layout = {"_type": "layout", "expires": "2099-01-01T00:00:00Z", "readme": "",
          "keys": {func.keyid: key}, "steps": step_list, "inspect": []}
json.dump(layout, open(f"{work}/layout.json", "w"))
PY
"$BIN" intoto sign-layout layout.json --out root.layout --key owner.pem >/dev/null
mkdir links
for i in $(seq 0 $((STEPS - 1))); do
  if [ "$i" = 0 ]; then
    "$BIN" intoto run -n "s$i" -p tree --key func.pem -d links --no-command >/dev/null 2>&1
  else
    "$BIN" intoto run -n "s$i" -m tree -p tree --key func.pem -d links --no-command >/dev/null 2>&1
  fi
done
best() { # best wall time of 3 runs of "$@", in ms; the command must succeed
  local b=""
  for _ in 1 2 3; do
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null 2>"$work/err" || { echo "failed: $* ($(cat "$work/err"))" >&2; exit 1; }
    t1=$(date +%s%N)
    local ms=$(( (t1 - t0) / 1000000 ))
    if [ -z "$b" ] || [ "$ms" -lt "$b" ]; then b=$ms; fi
  done
  echo "$b"
}
hm=$(best "$BIN" intoto verify --layout root.layout --layout-key owner.pub --links links)
it=$(best "$VENV_BIN/in-toto-verify" --layout root.layout --verification-keys owner.pub --link-dir links)
echo "intoto verify: $STEPS steps x $FILES artifacts ($(du -sh links | cut -f1) of links), best of 3"
echo "  hallmark intoto verify   ${hm} ms"
echo "  stock in-toto-verify     ${it} ms  = $(awk "BEGIN{printf \"%.1f\", $it/$hm}") x hallmark"
