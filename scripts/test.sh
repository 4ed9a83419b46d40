#!/usr/bin/env bash
# The test command: builds the binaries the integration tests spawn, installs the
# Better Auth test issuer, then runs every test in the workspace with cargo-nextest.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-deps.sh
scripts/ci/docs-assets.sh   # upstream-api embeds the /docs assets at build time
cargo build --workspace --bins
if [ -f tests/issuer/package-lock.json ]; then
  (cd tests/issuer && npm ci --no-audit --no-fund --loglevel=error)
fi
cargo nextest run --workspace --no-fail-fast "$@"
