#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine: installs what it needs, then runs the format and
# lint gates and every test (unit, property, RFC 6962 vectors, ct-merkle oracle, SoftHSM, crash).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_rust
# chromium + chromium-driver: the browser tests of the login pages (crates/cli/tests/browser_login.rs).
# openssh-client: ssh-agent holds litewitness's key (crates/cli/tests/witness.rs).
ensure_packages softhsm2 openssl chromium chromium-driver openssh-client
ensure_postgres
ensure_venv
ensure_node_clients
ensure_helm
ensure_cosign
ensure_litewitness

if [ ! -d "$ROOT/../shared/reference/testdata/rfc6962" ]; then
  echo "note: ../shared/reference/testdata is missing; the RFC 6962 vector tests will fail and say so" >&2
fi

log "cargo fmt --check"
cargo fmt --all --check
log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
# The fuzz targets' entry points (feature `fuzzing`) are not in a default build: check them too.
cargo clippy -p hallmark-server --features fuzzing --lib --locked -- -D warnings
# A production build has no development issuer (crates/cli/tests/attacks.rs checks the binary);
# `cargo test` then builds target/debug/hallmark again with it, for the test stacks.
# Cargo does not re-link target/debug/hallmark from a build that is already up to date, so the
# file is removed before each of the two builds to get the right one.
log "production build (no development issuer)"
if cargo tree --locked -p hallmark-cli -e normal | grep -q hallmark-dev-issuer; then
  echo "the production build depends on hallmark-dev-issuer" >&2
  exit 1
fi
rm -f "$CARGO_TARGET_DIR/debug/hallmark"
cargo build --locked -p hallmark-cli --bin hallmark
cp "$CARGO_TARGET_DIR/debug/hallmark" "$CARGO_TARGET_DIR/debug/hallmark-production"
export HALLMARK_PRODUCTION_BIN="$CARGO_TARGET_DIR/debug/hallmark-production"
rm -f "$CARGO_TARGET_DIR/debug/hallmark"
# The container image holding that build, for tests/tests/image.rs (Debian layer cached).
log "container image (deploy/build-image.sh)"
ensure_image
log "cargo test"
cargo test --workspace --locked
