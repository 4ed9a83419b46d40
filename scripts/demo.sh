#!/usr/bin/env bash
# Runs the demo: upstream-api (SQLite) on 127.0.0.1:8000 behind authgate on
# 127.0.0.1:8080 with the sample config.toml. Secrets default to throwaway
# development values when unset. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-deps.sh
scripts/ci/docs-assets.sh   # the /docs page's assets, embedded at build time
cargo build --workspace --bins

if [ -z "${BETTER_AUTH_SECRET:-}" ]; then
  export BETTER_AUTH_SECRET="dev-only-better-auth-secret-change-me-0123456789"
  echo "demo: BETTER_AUTH_SECRET not set; using a development value" >&2
fi
if [ -z "${AUTHGATE_ASSERTION_SECRET:-}" ]; then
  export AUTHGATE_ASSERTION_SECRET="dev-only-assertion-secret-change-me-0123456789"
  echo "demo: AUTHGATE_ASSERTION_SECRET not set; using a development value" >&2
fi

mkdir -p demo-data
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

UPSTREAM_API_SQLITE_PATH="demo-data/tasks.db" target/debug/upstream-api --listen 127.0.0.1:8000 &
pids+=($!)
target/debug/authgate --config config.toml &
pids+=($!)

for _ in $(seq 1 100); do
  curl -fsS http://127.0.0.1:9901/readyz >/dev/null 2>&1 && break
  sleep 0.1
done

token=$(target/debug/authgate dev-token --sub alice --email alice@example.com)
cat <<MSG

authgate is listening on http://127.0.0.1:8080 in front of upstream-api (http://127.0.0.1:8000).
A development token for user "alice" (HS256, BETTER_AUTH_SECRET, 15 minutes):

  TOKEN=$token

Try:
  curl -s http://127.0.0.1:8080/api/alice/tasks                                    # 401
  curl -s -H "Authorization: Bearer \$TOKEN" http://127.0.0.1:8080/api/alice/tasks  # 200
  curl -s -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' \\
       -d '{"title":"Buy milk"}' http://127.0.0.1:8080/api/alice/tasks             # 201
  curl -s -H "Authorization: Bearer \$TOKEN" http://127.0.0.1:8080/api/bob/tasks    # 403
  curl -s http://127.0.0.1:9901/metrics | grep authgate_requests_total            # metrics
  open http://127.0.0.1:8080/docs                                                  # API docs

Press Ctrl-C to stop.
MSG
wait
