#!/usr/bin/env bash
# Builds deploy/Dockerfile completely, Rust build stages included, with podman on this
# machine, where the rust:1.95-bookworm image cannot be pulled: a local stand-in for it
# is made from a Debian bookworm rootfs (debootstrap --variant=minbase, plus gcc, g++,
# make and libc6-dev as in the official image) and this machine's Rust toolchain (the same
# rustc 1.95.0), laid out like the official image (/usr/local/cargo, /usr/local/rustup).
# Then both targets are built exactly as a user builds them, only with
# --build-arg RUST_IMAGE and RUNTIME_IMAGE pointing at the local stand-ins.
#
# Slow (a full release build inside the container, ~10+ min on 2 cores, and vfs storage
# copies every layer), so it is not part of deploy/smoke.sh or CI. Run it by hand:
#   deploy/smoke/full-build.sh
# It leaves the images localhost/authgate:0.1.0-full and localhost/upstream-api:0.1.0-full
# (remove them with `podman rmi`) and the stand-ins for a faster second run; the build's
# intermediate images (about 2 GB each with vfs) are pruned.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
log() { printf 'full-build: %s\n' "$*" >&2; }
scripts/ensure-podman.sh
# shellcheck source=/dev/null
source <(scripts/ensure-podman.sh --env)
start=$SECONDS

rust_image=localhost/authgate-smoke/rust:1.95-bookworm
rootfs_image=localhost/authgate-smoke/rust-rootfs:1.95-bookworm
if ! podman image exists "$rootfs_image"; then
  work="$(mktemp -d /tmp/authgate-rust.XXXXXX)"
  trap 'rm -rf "$work"' EXIT
  log "debootstrap bookworm (minbase + gcc, libc6-dev, ca-certificates)"
  debootstrap --variant=minbase --include=gcc,g++,make,libc6-dev,ca-certificates,curl,git \
    bookworm "$work/rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log"; exit 1; }
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb
  toolchain="$(rustc --print sysroot)"
  log "adding the host's Rust toolchain ($(rustc --version))"
  mkdir -p "$work/rootfs/usr/local/rustup/toolchains" "$work/rootfs/usr/local/cargo/bin"
  cp -a "$toolchain" "$work/rootfs/usr/local/rustup/toolchains/1.95.0-x86_64-unknown-linux-gnu"
  for b in cargo rustc rustdoc; do
    ln -s "/usr/local/rustup/toolchains/1.95.0-x86_64-unknown-linux-gnu/bin/$b" \
      "$work/rootfs/usr/local/cargo/bin/$b"
  done
  cat >"$work/Containerfile" <<'EOF'
FROM scratch
COPY rootfs/ /
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["bash"]
EOF
  podman build -q --pull=never -t "$rootfs_image" "$work" >/dev/null
  log "rootfs $rootfs_image ready after $((SECONDS - start)) s"
fi
# This machine's CA bundle: here crates.io's certificate chains to a CA that this
# machine trusts and Debian's bundle does not have.
ca="$(mktemp -d /tmp/authgate-ca.XXXXXX)"
cp -L /etc/ssl/certs/ca-certificates.crt "$ca/"
# (g++ and make are in the official image too; a rootfs from before they were included
# here gets them now.)
printf '%s\n' "FROM $rootfs_image" \
  'COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt' \
  'RUN command -v c++ >/dev/null || { apt-get update && apt-get install -y --no-install-recommends g++ make && rm -rf /var/lib/apt/lists/*; }' \
  >"$ca/Containerfile"
podman build -q --pull=never -t "$rust_image" "$ca" >/dev/null
rm -rf "$ca"

# The runtime stand-in from deploy/smoke.sh (distroless cc nonroot's contents).
runtime=localhost/authgate-smoke/cc-nonroot:latest
podman image exists "$runtime" || { log "run deploy/smoke.sh once first (it makes $runtime)"; exit 1; }

for target in authgate upstream-api; do
  t0=$SECONDS
  log "podman build --target $target (the full Dockerfile)"
  podman build --pull=never --network host -f deploy/Dockerfile --target "$target" \
    --build-arg RUST_IMAGE="$rust_image" --build-arg RUNTIME_IMAGE="$runtime" \
    --build-arg REVISION="$(git rev-parse HEAD)" \
    -t "localhost/$target:0.1.0-full" . >"/tmp/full-build-$target.log" 2>&1 \
    || { tail -30 "/tmp/full-build-$target.log"; exit 1; }
  size=$(podman image inspect --format '{{.Size}}' "localhost/$target:0.1.0-full")
  log "$target: built in $((SECONDS - t0)) s, $((size / 1000000)) MB"
done
podman run --rm --network host localhost/authgate:0.1.0-full --version
podman run --rm --network host localhost/upstream-api:0.1.0-full --version
podman image prune -f >/dev/null
log "done in $((SECONDS - start)) s"
