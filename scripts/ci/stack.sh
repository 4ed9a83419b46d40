# Sourced by the CI scripts here: starts the real upstream-api (SQLite in a temporary
# directory) and the real authgate (the repository's config.toml) in front of it, both
# on free loopback ports, and stops exactly those two processes on exit.
#
# After `start_stack`: AUTHGATE_URL, AUTHGATE_ADMIN_URL, UPSTREAM_URL, STACK_DIR (logs: authgate.log,
# upstream.log), and `mint_token SUB` prints a bearer token for SUB. AUTHGATE_BIN and
# UPSTREAM_API_BIN override the binaries (default: the workspace's debug builds).

STACK_DEADLINE_SECS=${STACK_DEADLINE_SECS:-30}
# Throwaway secrets for the stack's lifetime, unless the caller brings its own.
export BETTER_AUTH_SECRET=${BETTER_AUTH_SECRET:-ci-better-auth-secret-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}
export AUTHGATE_ASSERTION_SECRET=${AUTHGATE_ASSERTION_SECRET:-ci-assertion-secret-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}

STACK_PIDS=()

stop_stack() {
  local pid
  for pid in "${STACK_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${STACK_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  STACK_PIDS=()
}

# wait_for_line FILE PREFIX: prints what follows PREFIX on the first such line of FILE.
wait_for_line() {
  local file=$1 prefix=$2 deadline=$((SECONDS + STACK_DEADLINE_SECS)) line
  while ((SECONDS < deadline)); do
    line=$(grep -m1 "^$prefix" "$file" 2>/dev/null || true)
    if [[ -n $line ]]; then
      echo "${line#"$prefix"}"
      return 0
    fi
    sleep 0.1
  done
  echo "stack: no '$prefix' line in $file within ${STACK_DEADLINE_SECS}s" >&2
  return 1
}

# wait_for_ok URL: polls until URL answers 200, within the deadline.
wait_for_ok() {
  local url=$1 deadline=$((SECONDS + STACK_DEADLINE_SECS))
  while ((SECONDS < deadline)); do
    if curl -fsS -o /dev/null --max-time 2 "$url"; then
      return 0
    fi
    sleep 0.1
  done
  echo "stack: $url not ready within ${STACK_DEADLINE_SECS}s" >&2
  return 1
}

start_stack() {
  local root=${REPO_ROOT:?REPO_ROOT must be set}
  local bin=${CARGO_TARGET_DIR:-$root/target}/debug
  AUTHGATE_BIN=${AUTHGATE_BIN:-$bin/authgate}
  UPSTREAM_API_BIN=${UPSTREAM_API_BIN:-$bin/upstream-api}
  for exe in "$AUTHGATE_BIN" "$UPSTREAM_API_BIN"; do
    [[ -x $exe ]] || { echo "stack: $exe missing: run cargo build --workspace --bins" >&2; return 1; }
  done
  STACK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/authgate-stack.XXXXXX")
  trap stop_stack EXIT

  env -u DATABASE_URL RUST_LOG=info UPSTREAM_API_SQLITE_PATH="$STACK_DIR/tasks.db" \
    "$UPSTREAM_API_BIN" --listen 127.0.0.1:0 >"$STACK_DIR/upstream.out" 2>"$STACK_DIR/upstream.log" &
  STACK_PIDS+=($!)
  local upstream
  upstream=$(wait_for_line "$STACK_DIR/upstream.out" "upstream-api listening on ") || { cat "$STACK_DIR/upstream.log" >&2; return 1; }
  UPSTREAM_URL="http://$upstream"
  wait_for_ok "$UPSTREAM_URL/healthz"

  env -u AUTHGATE_CONFIG RUST_LOG=info "$AUTHGATE_BIN" --config "$root/config.toml" \
    --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --upstream "$UPSTREAM_URL" \
    >"$STACK_DIR/authgate.out" 2>"$STACK_DIR/authgate.log" &
  STACK_PIDS+=($!)
  local proxy admin
  proxy=$(wait_for_line "$STACK_DIR/authgate.out" "authgate listening on ") || { cat "$STACK_DIR/authgate.log" >&2; return 1; }
  admin=$(wait_for_line "$STACK_DIR/authgate.out" "authgate admin listening on ") || { cat "$STACK_DIR/authgate.log" >&2; return 1; }
  AUTHGATE_URL="http://$proxy"
  AUTHGATE_ADMIN_URL="http://$admin"
  wait_for_ok "$AUTHGATE_ADMIN_URL/readyz"
  echo "stack: authgate $AUTHGATE_URL -> upstream-api $UPSTREAM_URL (logs in $STACK_DIR)" >&2
}

mint_token() {
  # Long enough for an unseeded long schemathesis run.
  "$AUTHGATE_BIN" dev-token --sub "$1" --ttl-secs "${TOKEN_TTL_SECS:-7200}"
}
