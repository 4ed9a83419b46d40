#!/usr/bin/env bash
# Browser test of /docs: Debian's chromium (apt), driven headless by playwright-core
# (npm), loads upstream-api's /docs through the real authgate and checks the page
# (scripts/ci/browser/docs.mjs). The screenshot is kept: target/ci-artifacts/docs.png.
#
# Needs `cargo build --workspace --bins` after scripts/ci/docs-assets.sh.
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO_ROOT"

if ! command -v chromium >/dev/null; then
  echo "browser: installing chromium from Debian" >&2
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
fi
(cd scripts/ci/browser && npm ci --no-audit --no-fund --loglevel=error)

# shellcheck source=scripts/ci/stack.sh
source scripts/ci/stack.sh
start_stack

artifacts=$REPO_ROOT/target/ci-artifacts
mkdir -p "$artifacts"
token=$(mint_token alice)
status=0
node scripts/ci/browser/docs.mjs "$AUTHGATE_URL" "$token" alice "$artifacts/docs.png" || status=$?
cp "$STACK_DIR/authgate.log" "$artifacts/browser-authgate.log"
cp "$STACK_DIR/upstream.log" "$artifacts/browser-upstream.log"
exit "$status"
