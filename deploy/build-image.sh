#!/usr/bin/env bash
# Builds Hallmark's container image without a container engine: the same runtime filesystem as
# deploy/Dockerfile's final stage, written as an OCI image layout (index.json, blobs/) that
# `skopeo copy oci:DIR:TAG docker://REGISTRY/...` pushes and `umoci unpack` / a CRI runtime runs.
#
#   deploy/build-image.sh [--binary PATH] [--out DIR] [--tag TAG] [--fresh-base]
#
# --binary  the hallmark binary to put in the image (default: $CARGO_TARGET_DIR/release/hallmark,
#           built first with `cargo build --release --locked -p hallmark-cli`: no dev-oidc feature).
# --out     the OCI layout to write (default: $CARGO_TARGET_DIR/image/oci); replaced if it exists.
# --tag     the tag in the layout (default: the workspace version).
# --fresh-base  rebuild the Debian layer even if a cached one is less than a week old (releases).
#
# How: two layers.
#   1. The Debian base: `mmdebstrap --variant=minbase` of bookworm with the runtime packages
#      (ca-certificates, softhsm2, p11-kit, p11-kit-modules), the user hallmark (10001:10001) and
#      the chart's mount points, trimmed like debian:bookworm-slim (no man pages, docs but the
#      copyright files, locales, apt lists). Cached for a week under
#      $CARGO_TARGET_DIR/image/base-<key>.tar, keyed by this script, so reruns only redo layer 2.
#   2. The binary alone, at /usr/local/bin/hallmark.
# umoci writes the layout (`umoci raw add-layer`, `umoci config` for User, Entrypoint, Cmd,
# WorkingDir, Env and the OCI labels); skopeo and umoci then read it back as a check.
#
# Why this way: no Docker daemon runs on the project's machines and Docker Hub is not reachable
# from them, so debian:bookworm-slim cannot be pulled; the Debian mirror is. bookworm-slim is
# itself a minbase debootstrap (debuerreotype) with docs and locales excluded, so mmdebstrap from
# the same mirror gives the same filesystem, built from signed packages with one command and no
# daemon (as root it uses chroot; unprivileged, a user namespace: install uidmap). umoci, a
# reference implementation of the OCI image spec, writes the layout, and skopeo (containers/image,
# as used by Podman and CRI-O) reads it back: the result is the spec's format, not an imitation
# of it. Needs: apt-get install mmdebstrap umoci skopeo.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BINARY=""
OUT="$TARGET/image/oci"
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n1)
TAG="$VERSION"
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
# The runtime packages: keep in step with deploy/Dockerfile.
PACKAGES=ca-certificates,softhsm2,p11-kit,p11-kit-modules
UID_GID=10001
FRESH_BASE=0

while [ $# -gt 0 ]; do
  case "$1" in
    --binary) BINARY=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --tag) TAG=$2; shift 2 ;;
    --fresh-base) FRESH_BASE=1; shift ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "build-image.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

for tool in mmdebstrap umoci skopeo; do
  command -v "$tool" >/dev/null || {
    echo "build-image.sh: $tool not found (apt-get install mmdebstrap umoci skopeo)" >&2
    exit 1
  }
done

if [ -z "$BINARY" ]; then
  log "cargo build --release --locked -p hallmark-cli (production: no dev-oidc)"
  if (cd "$ROOT" && cargo tree --locked -p hallmark-cli -e normal) | grep -q hallmark-dev-issuer; then
    echo "build-image.sh: the production build depends on hallmark-dev-issuer" >&2
    exit 1
  fi
  (cd "$ROOT" && cargo build --release --locked -p hallmark-cli --bin hallmark)
  BINARY="$TARGET/release/hallmark"
fi
[ -x "$BINARY" ] || { echo "build-image.sh: $BINARY is not an executable" >&2; exit 1; }

REVISION=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
# Timestamps in the image (tar entries, config, history) come from the commit, so two builds of
# one commit differ only where the Debian packages did.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || date +%s)}
CREATED=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)

work="$TARGET/image"
mkdir -p "$work"
tmp=$(mktemp -d "$work/tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Layer 1, cached: keyed by this script (its packages and hooks), rebuilt when a week old (to take
# Debian's point releases and security updates) or with --fresh-base.
key=$(sha256sum "$0" | cut -c1-16)
base="$work/base-$key.tar"
if [ "$FRESH_BASE" = 1 ] || [ -z "$(find "$base" -mtime -7 2>/dev/null)" ]; then
  rm -f "$base"
fi
if [ ! -s "$base" ]; then
  log "mmdebstrap $SUITE minbase + $PACKAGES"
  # Hooks run with the new root as $1 (mmdebstrap(1)); chroot works in root and unshare modes.
  mmdebstrap --variant=minbase --mode=auto --format=tar \
    --include="$PACKAGES" \
    --aptopt='APT::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --customize-hook="chroot \"\$1\" groupadd --system --gid $UID_GID hallmark" \
    --customize-hook="chroot \"\$1\" useradd --uid $UID_GID --gid $UID_GID --home-dir /var/lib/hallmark --no-create-home --shell /usr/sbin/nologin hallmark" \
    --customize-hook='mkdir -p "$1/var/lib/hallmark" "$1/etc/hallmark/config" "$1/etc/hallmark/pins" "$1/etc/hallmark/init-pins" "$1/etc/hallmark/trust-previous" "$1/etc/hallmark/oidc-ca" "$1/opt/pkcs11" "$1/etc/pkcs11"' \
    --customize-hook="chown $UID_GID:$UID_GID \"\$1/var/lib/hallmark\"" \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/apt/* "$1"/var/log/dpkg.log "$1"/var/cache/ldconfig/aux-cache' \
    "$SUITE" "$tmp/base.tar" \
    "deb $MIRROR $SUITE main" \
    "deb $MIRROR $SUITE-updates main" \
    "deb $SECURITY_MIRROR $SUITE-security main" </dev/null
  rm -f "$work"/base-*.tar
  mv "$tmp/base.tar" "$base"
else
  log "Debian base layer cached: $base"
fi

# Layer 2: the binary, owned by root (the user runs it, cannot change it).
mkdir -p "$tmp/bin/usr/local/bin"
install -m 0755 "$BINARY" "$tmp/bin/usr/local/bin/hallmark"
tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
  -C "$tmp/bin" -cf "$tmp/bin.tar" usr/local/bin/hallmark

log "OCI layout $OUT:$TAG"
rm -rf "$OUT"
umoci init --layout "$OUT"
umoci new --image "$OUT:$TAG"
umoci raw add-layer --image "$OUT:$TAG" --history.created "$CREATED" \
  --history.created_by "mmdebstrap --variant=minbase $SUITE + $PACKAGES (deploy/build-image.sh)" "$base"
umoci raw add-layer --image "$OUT:$TAG" --history.created "$CREATED" \
  --history.created_by "hallmark $VERSION ($REVISION) at /usr/local/bin/hallmark" "$tmp/bin.tar"
umoci config --image "$OUT:$TAG" --no-history \
  --created "$CREATED" --os linux --architecture amd64 \
  --config.user "$UID_GID:$UID_GID" \
  --config.workingdir /var/lib/hallmark \
  --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --config.entrypoint /usr/local/bin/hallmark \
  --config.cmd serve \
  --config.label org.opencontainers.image.title=hallmark \
  --config.label "org.opencontainers.image.description=Hallmark: a private Sigstore (Fulcio-compatible CA with keys in a PKCS#11 HSM, CT log, Rekor-compatible log)" \
  --config.label "org.opencontainers.image.version=$VERSION" \
  --config.label "org.opencontainers.image.revision=$REVISION" \
  --config.label "org.opencontainers.image.created=$CREATED" \
  --config.label org.opencontainers.image.licenses=Apache-2.0 \
  --config.label "org.opencontainers.image.source=${HALLMARK_SOURCE_URL:-https://example.invalid/hallmark}"
umoci gc --layout "$OUT"

# The check: both tools parse the layout, and the config says what the chart relies on.
log "skopeo inspect oci:$OUT:$TAG"
skopeo inspect --config "oci:$OUT:$TAG" >"$tmp/config.json"
umoci stat --image "$OUT:$TAG" >/dev/null
for want in "\"User\": \"$UID_GID:$UID_GID\"" '"/usr/local/bin/hallmark"' '"org.opencontainers.image.revision"'; do
  grep -qF "$want" "$tmp/config.json" || {
    echo "build-image.sh: the image config lacks $want:" >&2
    cat "$tmp/config.json" >&2
    exit 1
  }
done
read -r digest layers < <(skopeo inspect --format '{{.Digest}} {{len .Layers}}' "oci:$OUT:$TAG")
echo "$OUT:$TAG  manifest $digest, $layers layers (push: skopeo copy oci:$OUT:$TAG docker://REGISTRY/hallmark:$TAG)"
