#!/usr/bin/env bash
# Schemathesis against the real stack: authgate (the repository's config.toml) in front
# of upstream-api, with a bearer token, over the document upstream-api serves through
# authgate. Every phase (examples, coverage, fuzzing, stateful) and every check; any
# failure fails the script.
#
#   scripts/ci/schemathesis.sh              CI: fixed seed, 100 examples per operation
#   SCHEMATHESIS_LONG=1 scripts/ci/schemathesis.sh
#                                           unseeded, 1000 examples per operation, for
#                                           people (takes minutes; not run in CI)
#
# Needs `cargo build --workspace --bins` first. Installs schemathesis from PyPI into
# a venv under target/ on first use. Reports go to target/ci-artifacts/schemathesis/.
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO_ROOT"

SCHEMATHESIS_VERSION=4.32.5
VENV=${SCHEMATHESIS_VENV:-${CARGO_TARGET_DIR:-$REPO_ROOT/target}/ci/schemathesis-venv}
if [[ "$("$VENV/bin/st" --version 2>/dev/null || true)" != *"$SCHEMATHESIS_VERSION"* ]]; then
  echo "schemathesis: installing $SCHEMATHESIS_VERSION into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

# shellcheck source=scripts/ci/stack.sh
source scripts/ci/stack.sh
start_stack

export SCHEMATHESIS_USER=alice
token=$(mint_token "$SCHEMATHESIS_USER")
reports=${SCHEMATHESIS_REPORTS:-$REPO_ROOT/target/ci-artifacts/schemathesis}
rm -rf "$reports"
mkdir -p "$reports"

if [[ ${SCHEMATHESIS_LONG:-0} == 1 ]]; then
  budget=(--max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-1000}")
else
  budget=(--max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-100}" --seed "${SCHEMATHESIS_SEED:-20261201}")
fi

status=0
# From the reports directory: schemathesis keeps its replay cache (.schemathesis/) in
# the working directory.
cd "$reports"
"$VENV/bin/st" --config-file "$REPO_ROOT/scripts/ci/schemathesis.toml" run "$AUTHGATE_URL/openapi.json" \
  --url "$AUTHGATE_URL" \
  --header "Authorization: Bearer $token" \
  --phases examples,coverage,fuzzing,stateful \
  --checks all \
  --workers 1 \
  --request-timeout 10 \
  --report junit,ndjson --report-dir "$reports" \
  --no-color \
  "${budget[@]}" | tee "$reports/output.txt" || status=$?
cp "$STACK_DIR/authgate.log" "$STACK_DIR/upstream.log" "$reports/"
exit "$status"
