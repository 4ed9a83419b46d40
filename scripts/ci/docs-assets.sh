#!/usr/bin/env bash
# Installs the Swagger UI assets (npm package swagger-ui-dist, pinned in
# upstream-api/docs-ui/package-lock.json) that upstream-api's build.rs embeds for /docs.
# Run it before `cargo build`; a build without them serves 503 at /docs.
set -euo pipefail
cd "$(dirname "$0")/../../upstream-api/docs-ui"
npm ci --no-audit --no-fund --loglevel=error
