#!/usr/bin/env bash
# The test command: builds the binaries the integration tests spawn, installs the
# Better Auth test issuers, then runs every test in the workspace with cargo-nextest.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-deps.sh
scripts/ci/docs-assets.sh   # upstream-api embeds the /docs assets at build time
cargo build --workspace --bins
# The Better Auth test issuers: better-auth 1.7.25 (jwt plugin) and, for OIDC discovery,
# better-auth 1.7.5 with @better-auth/oauth-provider 1.7.5 (its peers pin that release).
for dir in tests/issuer tests/issuer/oidc; do
  if [ -f "$dir/package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
cargo nextest run --workspace --no-fail-fast "$@"
