#!/usr/bin/env bash
# authgate load benchmarks, side by side with HAProxy and nginx, in one run.
#
#   bench/run.sh            full run (3 rounds, both layouts) -> bench/RESULTS.md
#   bench/run.sh --quick    about a minute (1 round, 1 s runs) -> bench/out/RESULTS-quick.md
#   bench/run.sh --help     every option
#
# What it does, in order (bench/README.md explains how to read the results):
#   1. installs wrk, haproxy, nginx, openssl, curl with apt if any is missing;
#   2. builds the release binaries (authgate and the bench crate);
#   3. generates keys, tokens, a JWKS and every config into a temporary directory;
#   4. runs the closed-loop scenarios round-robin (every scenario once per round, both
#      layouts alternating inside a round), then the fixed-rate open-loop runs, then the
#      peak-RSS runs at 256 connections; each run gets a fresh server process;
#   5. writes the tables (medians over the rounds) with the machine description.
#
# Every load run is bounded in time and targets 127.0.0.1 only. Every process this
# script starts is stopped on exit, including Ctrl-C.
set -euo pipefail

SCRIPT_ARGS="$*"
SCRIPT_NAME=run.sh
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=bench/tls.sh
. "$(dirname "${BASH_SOURCE[0]}")/tls.sh"

ALL_SCENARIOS="direct authgate-public authgate-hs256 authgate-hs256-nolog authgate-hs256-tuned authgate-eddsa authgate-eddsa-many authgate-rs256 authgate-limit-local authgate-limit-redis authgate-revoked-100k haproxy-hs256-log haproxy-hs256 haproxy-rs256 nginx"
# Revoked subjects preloaded for authgate-revoked-100k.
REVOKED=100000

usage() {
    cat <<EOF
Usage: bench/run.sh [options]

  --quick               about a minute: 1 round, 1 s runs, no warm-up, no RSS pass;
                        writes bench/out/RESULTS-quick.md unless --output is given
  --connections N       connections of the closed-loop and open-loop runs (default 64)
  --rss-connections N   connections of the peak-RSS pass (default 256; 0 skips it)
  --duration S          seconds per closed-loop run (default 3; quick 1)
  --warmup S            seconds of warm-up load before each measured run (default 1; quick 0)
  --rounds N            round-robin repetitions; medians are reported (default 3; quick 1)
  --rate N              open-loop rate in requests/s (default 5000)
  --open-duration S     seconds per open-loop run (default 2; quick 1)
  --tokens N            distinct EdDSA tokens of authgate-eddsa-many (default 10000)
  --layouts L           comma list of pinned,unpinned (default both)
  --scenarios L         comma list (default all): $ALL_SCENARIOS
  --no-tls              skip the TLS and HTTP/2 rows (bench/tls.sh)
  --only-tls            run only the TLS and HTTP/2 rows
  --no-access-log       run every authgate scenario with its access log off
                        (RUST_LOG=warn); by default they run as shipped, log on
  --baseline-authgate PATH
                        also run every chosen authgate scenario with this authgate
                        binary (rows '<scenario>@baseline', interleaved with the
                        others: a before/after from one run)
  --output FILE         where to write the results (default bench/RESULTS.md)
  --no-install          never call apt-get; fail if a tool is missing
  --no-build            use the binaries already in \$CARGO_TARGET_DIR/release
  --keep                keep the temporary directory (configs, keys, logs)
  -h, --help            this text

Environment: CARGO_TARGET_DIR (default <repo>/target).
EOF
}

# ---------------------------------------------------------------- options
QUICK=0
CONNECTIONS=64
RSS_CONNECTIONS=256
DURATION=""
WARMUP=""
ROUNDS=""
RATE=5000
OPEN_DURATION=""
TOKENS=10000
LAYOUTS="pinned,unpinned"
SCENARIOS="${ALL_SCENARIOS// /,}"
ACCESS_LOG=1
BASELINE_AUTHGATE=""
TLS_ROWS=1
OUTPUT=""
INSTALL=1
BUILD=1
KEEP=0

need_value() {
    [[ $# -ge 2 && -n "$2" ]] || die "$1 needs a value (see --help)"
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --connections) need_value "$@"; CONNECTIONS="$2"; shift ;;
        --rss-connections) need_value "$@"; RSS_CONNECTIONS="$2"; shift ;;
        --duration) need_value "$@"; DURATION="$2"; shift ;;
        --warmup) need_value "$@"; WARMUP="$2"; shift ;;
        --rounds) need_value "$@"; ROUNDS="$2"; shift ;;
        --rate) need_value "$@"; RATE="$2"; shift ;;
        --open-duration) need_value "$@"; OPEN_DURATION="$2"; shift ;;
        --tokens) need_value "$@"; TOKENS="$2"; shift ;;
        --layouts) need_value "$@"; LAYOUTS="$2"; shift ;;
        --scenarios) need_value "$@"; SCENARIOS="$2"; shift ;;
        --no-access-log) ACCESS_LOG=0 ;;
        --baseline-authgate) need_value "$@"; BASELINE_AUTHGATE="$2"; shift ;;
        --no-tls) TLS_ROWS=0 ;;
        --only-tls) TLS_ROWS=1; SCENARIOS=none ;;
        --output) need_value "$@"; OUTPUT="$2"; shift ;;
        --no-install) INSTALL=0 ;;
        --no-build) BUILD=0 ;;
        --keep) KEEP=1 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
done

if [[ $QUICK == 1 ]]; then
    DURATION="${DURATION:-1}"
    WARMUP="${WARMUP:-0}"
    ROUNDS="${ROUNDS:-1}"
    OPEN_DURATION="${OPEN_DURATION:-1}"
    [[ "$SCRIPT_ARGS" == *--rss-connections* ]] || RSS_CONNECTIONS=0
    OUTPUT="${OUTPUT:-$BENCH_DIR/out/RESULTS-quick.md}"
else
    DURATION="${DURATION:-3}"
    WARMUP="${WARMUP:-1}"
    ROUNDS="${ROUNDS:-3}"
    OPEN_DURATION="${OPEN_DURATION:-2}"
    OUTPUT="${OUTPUT:-$BENCH_DIR/RESULTS.md}"
fi

is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }
for pair in "connections:$CONNECTIONS" "rss-connections:$RSS_CONNECTIONS" "duration:$DURATION" \
    "warmup:$WARMUP" "rounds:$ROUNDS" "rate:$RATE" "open-duration:$OPEN_DURATION" "tokens:$TOKENS"; do
    is_uint "${pair#*:}" || die "--${pair%%:*} must be a whole number, got '${pair#*:}'"
done
((CONNECTIONS >= 1 && CONNECTIONS <= 5000)) || die "--connections must be 1..5000"
((RSS_CONNECTIONS <= 5000)) || die "--rss-connections must be 0..5000"
((DURATION >= 1 && DURATION <= 120)) || die "--duration must be 1..120 seconds"
((WARMUP <= 30)) || die "--warmup must be 0..30 seconds"
((ROUNDS >= 1 && ROUNDS <= 20)) || die "--rounds must be 1..20"
((RATE >= 1 && RATE <= 200000)) || die "--rate must be 1..200000"
((OPEN_DURATION >= 1 && OPEN_DURATION <= 120)) || die "--open-duration must be 1..120 seconds"
((TOKENS >= 10 && TOKENS <= 200000)) || die "--tokens must be 10..200000"

IFS=',' read -r -a LAYOUT_LIST <<<"$LAYOUTS"
for l in "${LAYOUT_LIST[@]}"; do
    [[ $l == pinned || $l == unpinned ]] || die "unknown layout '$l' (pinned, unpinned)"
done
SCENARIO_LIST=()
[[ $SCENARIOS == none ]] || IFS=',' read -r -a SCENARIO_LIST <<<"$SCENARIOS"
for s in "${SCENARIO_LIST[@]}"; do
    [[ " $ALL_SCENARIOS " == *" $s "* ]] || die "unknown scenario '$s' ($ALL_SCENARIOS)"
done
# With a baseline binary, each authgate scenario is followed by its '@baseline' twin.
if [[ -n $BASELINE_AUTHGATE ]]; then
    [[ -x $BASELINE_AUTHGATE ]] || die "--baseline-authgate: $BASELINE_AUTHGATE is not an executable"
    BASELINE_AUTHGATE="$(cd "$(dirname "$BASELINE_AUTHGATE")" && pwd)/$(basename "$BASELINE_AUTHGATE")"
    expanded=()
    for s in "${SCENARIO_LIST[@]}"; do
        expanded+=("$s")
        [[ $s == authgate-* ]] && expanded+=("$s@baseline")
    done
    SCENARIO_LIST=("${expanded[@]}")
fi

NPROC="$(nproc)"
if [[ " ${LAYOUT_LIST[*]} " == *" pinned "* ]] && ((NPROC < 2)); then
    echo "run.sh: only $NPROC CPU: the pinned layout needs 2, running unpinned only" >&2
    LAYOUT_LIST=(unpinned)
fi

# ---------------------------------------------------------------- cleanup
# "pid:signal" of every long-running process we started. authgate (Pingora) exits at
# once on SIGINT; SIGTERM would wait for its grace period.
PIDS=()
WORK=""

stop_pid() {
    local pid="$1" sig="$2" kids i
    kids="$(descendants "$pid")"
    kill "-$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        alive "$pid" || break
        sleep 0.05
    done
    if alive "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    for k in $kids; do
        if alive "$k"; then kill -KILL "$k" 2>/dev/null || true; fi
    done
    wait "$pid" 2>/dev/null || true
}

forget_pid() {
    local keep=() e
    for e in "${PIDS[@]}"; do
        [[ ${e%%:*} == "$1" ]] || keep+=("$e")
    done
    PIDS=("${keep[@]}")
}

cleanup() {
    local rc=$? e
    trap - EXIT INT TERM
    for e in "${PIDS[@]}"; do
        stop_pid "${e%%:*}" "${e#*:}"
    done
    remove_policy_rc
    if [[ -n $WORK && -d $WORK ]]; then
        if [[ $KEEP == 1 || $rc != 0 ]]; then
            echo "run.sh: work directory kept: $WORK" >&2
        else
            rm -rf "$WORK"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- tools
install_tools() {
    local missing=()
    command -v wrk >/dev/null || missing+=(wrk)
    command -v haproxy >/dev/null || missing+=(haproxy)
    command -v nginx >/dev/null || missing+=(nginx)
    command -v openssl >/dev/null || missing+=(openssl)
    command -v curl >/dev/null || missing+=(curl)
    if [[ $TLS_ROWS == 1 ]]; then command -v h2load >/dev/null || missing+=(nghttp2-client); fi
    command -v taskset >/dev/null || missing+=(util-linux)
    command -v pgrep >/dev/null || missing+=(procps)
    command -v redis-server >/dev/null || missing+=(redis-server)
    # Pingora's zlib-ng build needs cmake.
    if [[ $BUILD == 1 ]]; then command -v cmake >/dev/null || missing+=(cmake); fi
    ((${#missing[@]} == 0)) && return 0
    [[ $INSTALL == 1 ]] || die "missing ${missing[*]} and --no-install was given"
    apt_install "${missing[@]}"
}

install_tools

# `wrk -v` prints its version then exits 1.
HAPROXY_VERSION="$(haproxy -v 2>&1 | head -n1 || true)"
NGINX_VERSION="$(nginx -v 2>&1 | head -n1 || true)"
WRK_VERSION="$(wrk -v 2>&1 | head -n1 | sed 's/ *Copyright.*//' || true)"
OPENSSL_VERSION="$(openssl version || true)"
HAPROXY_JWT=1
if [[ "$HAPROXY_VERSION" =~ version\ ([0-9]+)\.([0-9]+) ]]; then
    if ((BASH_REMATCH[1] < 2 || (BASH_REMATCH[1] == 2 && BASH_REMATCH[2] < 5))); then
        HAPROXY_JWT=0
    fi
else
    HAPROXY_JWT=0
fi

# ---------------------------------------------------------------- build
if [[ $BUILD == 1 ]]; then
    build_release
fi
AUTHGATE="$BIN/authgate"
for b in "$AUTHGATE" "$BIN/bench-upstream" "$BIN/bench-tokens" "$BIN/bench-openloop" "$BIN/bench-report"; do
    [[ -x $b ]] || die "$b not found: build it (drop --no-build) or set CARGO_TARGET_DIR"
done

# ---------------------------------------------------------------- work directory
WORK="$(mktemp -d /tmp/authgate-bench.XXXXXX)"
mkdir -p "$WORK/logs" "$WORK/nginx-tmp"
RAW="$WORK/raw.jsonl"
: >"$RAW"

log "generating keys, tokens (1 + $TOKENS EdDSA) and configs in $WORK"
make_keys_and_tokens "$WORK" "$TOKENS" "$BIN/bench-tokens"

CACHE_ENTRIES=$((TOKENS / 10))
# The JWKS is served over HTTP by a bench-upstream of its own (started with the shared
# upstreams), as Better Auth serves it.
JWKS_PORT="$(free_port)"
render "$BENCH_DIR/templates/authgate-hs256.toml" "$WORK/authgate-hs256.toml"
render "$BENCH_DIR/templates/authgate-jwks.toml" "$WORK/authgate-jwks.toml" "JWKS_PORT=$JWKS_PORT"
render "$BENCH_DIR/templates/authgate-jwks-many.toml" "$WORK/authgate-jwks-many.toml" \
    "JWKS_PORT=$JWKS_PORT" "CACHE_ENTRIES=$CACHE_ENTRIES"
# The Redis of the Redis scenarios (started with the shared upstreams).
REDIS_PORT="$(free_port)"
render_shared_state_configs "$WORK" "redis://127.0.0.1:$REDIS_PORT"

# Scenarios that cannot run, with the reason: recorded in the results, never fatal.
declare -A SKIP=()
NOTES=()
skip() { # scenario reason
    [[ -n ${SKIP[$1]:-} ]] && return 0
    SKIP[$1]="$2"
    local reason="${2//\\/}"
    reason="${reason//\"/\'}"
    printf '{"kind":"skipped","scenario":"%s","reason":"%s"}\n' "$1" "$(tr '\n\t' '  ' <<<"$reason")" >>"$RAW"
    log "SKIP $1: $2"
}

check_authgate() { # config [binary] → 0 or prints the first error line
    local out
    if out="$("${2:-$AUTHGATE}" check --config "$1" 2>&1)"; then
        return 0
    fi
    grep -m1 -v '^\s*$' <<<"$out" | cut -c1-200
    return 1
}

if ! why="$(check_authgate "$WORK/authgate-hs256.toml")"; then
    skip authgate-public "authgate check rejects the HS256 config: $why"
    skip authgate-hs256 "authgate check rejects the HS256 config: $why"
fi
JWKS_MANY_CONFIG="$WORK/authgate-jwks-many.toml"
if ! why="$(check_authgate "$WORK/authgate-jwks.toml")"; then
    for s in authgate-eddsa authgate-eddsa-many authgate-rs256; do
        skip "$s" "this authgate does not accept a jwks_url source (authgate check: $why)"
    done
elif ! why="$(check_authgate "$JWKS_MANY_CONFIG")"; then
    # No [auth.cache] in this authgate: nothing to miss, every request verifies.
    JWKS_MANY_CONFIG="$WORK/authgate-jwks.toml"
    NOTES+=("authgate-eddsa-many ran with the plain JWKS config: authgate check rejected [auth.cache] ($why)")
fi
for s in "${SCENARIO_LIST[@]}"; do
    [[ $s == *@baseline ]] || continue
    case "${s%@baseline}" in
        authgate-eddsa-many) cfg="$JWKS_MANY_CONFIG" ;;
        authgate-eddsa | authgate-rs256) cfg="$WORK/authgate-jwks.toml" ;;
        authgate-limit-local | authgate-limit-redis) cfg="$WORK/${s%@baseline}.toml" ;;
        authgate-revoked-100k) cfg="$WORK/authgate-revoked.toml" ;;
        *) cfg="$WORK/authgate-hs256.toml" ;;
    esac
    if ! why="$(check_authgate "$cfg" "$BASELINE_AUTHGATE")"; then
        skip "$s" "the baseline authgate check rejects $(basename "$cfg"): $why"
    fi
done
for s in authgate-limit-local authgate-limit-redis authgate-revoked-100k; do
    cfg="$WORK/authgate-${s#authgate-}.toml"
    [[ $s == authgate-revoked-100k ]] && cfg="$WORK/authgate-revoked.toml"
    if ! why="$(check_authgate "$cfg")"; then
        skip "$s" "this authgate does not accept the config (authgate check: $why)"
    fi
done
if [[ $HAPROXY_JWT == 0 ]]; then
    skip haproxy-hs256 "HAProxy too old for jwt_verify (needs 2.5+): $HAPROXY_VERSION"
    skip haproxy-rs256 "HAProxy too old for jwt_verify (needs 2.5+): $HAPROXY_VERSION"
fi

# ---------------------------------------------------------------- processes
CLK_TCK="$(getconf CLK_TCK)"

LAUNCHED=0
launch() { # name signal command... (never call in $(...): the pid must be our child)
    local name="$1" sig="$2"
    shift 2
    "$@" >>"$WORK/logs/$name.log" 2>&1 &
    LAUNCHED=$!
    PIDS+=("$LAUNCHED:$sig")
}

wait_http() { # pid url name: until the server answers anything over HTTP (10 s at most)
    local pid="$1" url="$2" name="$3" deadline=$((SECONDS + 10))
    until curl -s -o /dev/null --max-time 1 "$url"; do
        if ! alive "$pid"; then
            tail -n 5 "$WORK/logs/$name.log" >&2 || true
            return 1
        fi
        ((SECONDS < deadline)) || return 1
        sleep 0.05
    done
}

pid_tree() { echo "$1"; descendants "$1"; }

cpu_ticks() { # utime + stime of pid and its descendants, in clock ticks
    local total=0 p t
    for p in $(pid_tree "$1"); do
        t="$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || echo 0)"
        total=$((total + t))
    done
    echo "$total"
}

rss_kb() { # VmHWM (peak RSS) of pid and its descendants, summed, in KiB
    local total=0 p v
    for p in $(pid_tree "$1"); do
        v="$(awk '/^VmHWM:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)"
        total=$((total + ${v:-0}))
    done
    echo "$total"
}

cpu_snapshot() { # "total steal" ticks of the whole machine, from /proc/stat
    awk '/^cpu / { print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $9 }' /proc/stat
}

steal_pct() { # snapshot-before snapshot-after → percent of CPU time stolen by the hypervisor
    awk -v a="$1" -v b="$2" 'BEGIN {
        split(a, x, " "); split(b, y, " ")
        t = y[1] - x[1]; printf "%.1f", (t > 0) ? 100 * (y[2] - x[2]) / t : 0 }'
}

# Per-layout settings: CPU sets, thread counts.
set_layout() {
    LAYOUT="$1"
    if [[ $LAYOUT == pinned ]]; then
        PIN_SERVER=(taskset -c 0)
        PIN_LOAD=(taskset -c 1)
        THREADS=1
        WRK_THREADS=1
    else
        PIN_SERVER=()
        PIN_LOAD=()
        THREADS=2
        WRK_THREADS=2
    fi
    UPORT="${UPSTREAM_PORT[$LAYOUT]}"
}

# One shared upstream per layout for the proxied scenarios (the direct scenario starts a
# fresh one of its own so its CPU and RSS are its own).
declare -A UPSTREAM_PORT=()
PIN_REDIS=()
[[ " ${LAYOUT_LIST[*]} " == *" pinned "* ]] && PIN_REDIS=(taskset -c 1)
start_shared_upstreams() {
    local l port pin threads
    launch jwks-server TERM "$BIN/bench-upstream" --listen "127.0.0.1:$JWKS_PORT" --threads 1 \
        --jwks "$WORK/jwks.json"
    wait_http "$LAUNCHED" "http://127.0.0.1:$JWKS_PORT/.well-known/jwks.json" jwks-server ||
        die "the JWKS server did not start"
    if should_run authgate-limit-redis || should_run authgate-revoked-100k; then
        # On CPU 1 with the load generator and the upstream in the pinned layout: the
        # server's CPU figures are authgate's alone, Redis's round trip is in its latency.
        redis_command "$REDIS_PORT" "$WORK/logs/redis.log"
        launch redis TERM "${PIN_REDIS[@]}" "${REDIS_CMD[@]}"
        wait_redis "$REDIS_PORT"
        preload_revocations "$REDIS_PORT" "$REVOKED"
        log "redis-server on port $REDIS_PORT, $REVOKED revoked subjects preloaded"
    fi
    for l in "${LAYOUT_LIST[@]}"; do
        port="$(free_port)"
        if [[ $l == pinned ]]; then pin=(taskset -c 1); threads=1; else pin=(); threads=2; fi
        launch "upstream-$l" TERM "${pin[@]}" "$BIN/bench-upstream" --listen "127.0.0.1:$port" --threads "$threads"
        wait_http "$LAUNCHED" "http://127.0.0.1:$port/" "upstream-$l" || die "bench-upstream ($l) did not start"
        UPSTREAM_PORT[$l]="$port"
    done
}

token_of() { tr -d '\n' <"$WORK/$1.token"; }

# start_server SCENARIO: a fresh server for the scenario in the current layout. Sets
# SERVER_PID, SERVER_SIG, SERVER_URL, AUTH_ARGS (-H ... for wrk and bench-openloop),
# TOKEN_FILE (rotating tokens) and TOKEN_NAME (for the pre-flight checks).
start_server() {
    local s="$1" port name
    port="$(free_port)"
    name="$s-$LAYOUT"
    AUTH_ARGS=()
    TOKEN_FILE=""
    TOKEN_NAME=""
    SERVER_URL="http://127.0.0.1:$port/api/bench"
    case "$s" in
        direct)
            SERVER_SIG=TERM
            launch "$name" TERM "${PIN_LOAD[@]}" "$BIN/bench-upstream" --listen "127.0.0.1:$port" --threads "$THREADS"
            ;;
        authgate-*)
            # As shipped: the CPUs available as threads (one when pinned to CPU 0), the
            # access log on (RUST_LOG's default, info), written to the log file.
            local cfg="$WORK/authgate-hs256.toml" rust_log=info threads=() bin="$AUTHGATE"
            [[ $s == *@baseline ]] && bin="$BASELINE_AUTHGATE"
            ADMIN_PORT="$(free_port)"
            case "${s%@baseline}" in
                authgate-public) SERVER_URL="http://127.0.0.1:$port/public/bench" ;;
                authgate-hs256) TOKEN_NAME=hs256 ;;
                authgate-hs256-nolog) TOKEN_NAME=hs256; rust_log=warn ;;
                authgate-hs256-tuned) TOKEN_NAME=hs256; rust_log=warn; threads=(--threads 1) ;;
                authgate-eddsa) TOKEN_NAME=eddsa; cfg="$WORK/authgate-jwks.toml" ;;
                authgate-eddsa-many) TOKEN_NAME=eddsa; TOKEN_FILE="$WORK/eddsa-many.tokens"; cfg="$JWKS_MANY_CONFIG" ;;
                authgate-rs256) TOKEN_NAME=rs256; cfg="$WORK/authgate-jwks.toml" ;;
                authgate-limit-local) TOKEN_NAME=hs256; cfg="$WORK/authgate-limit-local.toml" ;;
                authgate-limit-redis) TOKEN_NAME=hs256; cfg="$WORK/authgate-limit-redis.toml" ;;
                authgate-revoked-100k) TOKEN_NAME=hs256; cfg="$WORK/authgate-revoked.toml" ;;
            esac
            [[ $ACCESS_LOG == 0 ]] && rust_log=warn
            SERVER_SIG=INT
            launch "$name" INT "${PIN_SERVER[@]}" env RUST_LOG="$rust_log" "$bin" --config "$cfg" \
                --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$ADMIN_PORT" \
                --upstream "http://127.0.0.1:$UPORT" "${threads[@]}"
            ;;
        haproxy-*)
            local alg=HS256 key="$BETTER_AUTH_SECRET" logline="no log"
            TOKEN_NAME=hs256
            if [[ $s == haproxy-rs256 ]]; then
                alg=RS256; key="$WORK/rsa-public.pem"; TOKEN_NAME=rs256
            fi
            # option httplog to stdout, which goes to the log file as authgate's stderr does.
            [[ $s == haproxy-hs256-log ]] && logline="log stdout format raw local0"
            render "$BENCH_DIR/templates/haproxy-jwt.cfg" "$WORK/$name.cfg" "THREADS=$THREADS" \
                "PORT=$port" "UPORT=$UPORT" "ALG=$alg" "KEY=$key" "LEEWAY=30" "LOG=$logline" "BIND="
            SERVER_SIG=TERM
            launch "$name" TERM "${PIN_SERVER[@]}" haproxy -f "$WORK/$name.cfg" -db
            ;;
        nginx)
            render "$BENCH_DIR/templates/nginx.conf" "$WORK/$name.conf" "WORKERS=$THREADS" \
                "PORT=$port" "UPORT=$UPORT" "WORK=$WORK"
            SERVER_SIG=TERM
            launch "$name" TERM "${PIN_SERVER[@]}" nginx -p "$WORK" -e "$WORK/logs/$name-error.log" -c "$WORK/$name.conf"
            ;;
    esac
    SERVER_PID=$LAUNCHED
    if [[ -n $TOKEN_NAME && -z $TOKEN_FILE ]]; then
        AUTH_ARGS=(-H "Authorization: Bearer $(token_of "$TOKEN_NAME")")
    fi
    wait_http "$SERVER_PID" "http://127.0.0.1:$port/" "$name" || return 1
    if [[ $s == authgate-* ]]; then
        # Ready once its JWKS is loaded (jwks_url scenarios); at once otherwise.
        wait_ready "http://127.0.0.1:$ADMIN_PORT/readyz"
    fi
}

wait_ready() { # url: until it answers 200 (10 s at most)
    local deadline=$((SECONDS + 10))
    until [[ "$(curl -s -o /dev/null --max-time 1 -w '%{http_code}' "$1")" == 200 ]]; do
        ((SECONDS < deadline)) || return 1
        sleep 0.05
    done
}

stop_server() {
    stop_pid "$SERVER_PID" "$SERVER_SIG"
    forget_pid "$SERVER_PID"
}

status_of() { # url [token-name]
    local auth=()
    [[ -n ${2:-} ]] && auth=(-H "Authorization: Bearer $(token_of "$2")")
    curl -s -o /dev/null --max-time 5 -w '%{http_code}' "${auth[@]}" "$1" || echo 000
}

# Proves the server under test does what the scenario claims before loading it: 200 with
# the scenario's token and, where a token is required, 401 without one, with an expired
# one and with a tampered signature. Prints what went wrong.
preflight() {
    local got
    if [[ -n $TOKEN_FILE ]]; then
        got="$(curl -s -o /dev/null --max-time 5 -w '%{http_code}' \
            -H "Authorization: Bearer $(head -n1 "$TOKEN_FILE")" "$SERVER_URL" || echo 000)"
    else
        got="$(status_of "$SERVER_URL" "$TOKEN_NAME")"
    fi
    [[ $got == 200 ]] || { echo "expected 200 with a valid token, got $got"; return 1; }
    [[ -n $TOKEN_NAME ]] || return 0
    got="$(status_of "$SERVER_URL")"
    [[ $got == 401 ]] || { echo "expected 401 without a token, got $got"; return 1; }
    got="$(status_of "$SERVER_URL" "$TOKEN_NAME-expired")"
    [[ $got == 401 ]] || { echo "expected 401 for an expired token, got $got"; return 1; }
    got="$(status_of "$SERVER_URL" "$TOKEN_NAME-badsig")"
    [[ $got == 401 ]] || { echo "expected 401 for a tampered signature, got $got"; return 1; }
    case "$SCENARIO" in
        authgate-limit-*)
            curl -s -D - -o /dev/null -H "Authorization: Bearer $(token_of hs256)" "$SERVER_URL" |
                grep -qi '^ratelimit-policy: "per-user"' || { echo "no RateLimit-Policy field"; return 1; }
            ;;
        authgate-revoked-100k)
            grep -q "subjects=$REVOKED" "$WORK/logs/$SCENARIO-$LAYOUT.log" ||
                { echo "authgate did not load the $REVOKED revocations"; return 1; }
            ;;
    esac
}

run_wrk() { # duration connections threads → the BENCH_JSON object
    local d="$1" c="$2" t="$3" out
    ((t > c)) && t="$c"
    if ! out="$(BENCH_TOKEN_FILE="$TOKEN_FILE" BENCH_WRK_THREADS="$t" timeout $((d + 30)) \
        "${PIN_LOAD[@]}" wrk -t"$t" -c"$c" -d"${d}s" --timeout 5s -s "$BENCH_DIR/wrk/report.lua" \
        "${AUTH_ARGS[@]}" "$SERVER_URL" 2>&1)"; then
        echo "wrk failed: $out" >&2
        return 1
    fi
    grep '^BENCH_JSON ' <<<"$out" | sed 's/^BENCH_JSON //'
}

# Upstream connection reuse of an authgate over its life (pre-flight, warm-up, measured
# run): the requests it proxied (authgate_requests_total, decision allow or anonymous, from
# its admin /metrics), the connections the upstream accepted meanwhile (bench-upstream
# counts them), and what authgate says itself: authgate_upstream_connections_total
# {reused="false"} (-1 when it has no such metric) and its "failed to acquire reusable
# stream" log lines (Pingora's record of a pooled connection it could not reuse).
REUSE_MARK="failed to acquire reusable stream"
reuse_log_lines() {
    local n
    n="$(grep -c "$REUSE_MARK" "$1" 2>/dev/null)" || true
    echo "${n:-0}"
}
upstream_accepted() { # connections the current layout's upstream has accepted (this one included)
    curl -s --max-time 5 "http://127.0.0.1:$UPORT/.bench/connections" || echo 0
}
upstream_json() { # metrics-text accepted log-lines → the "upstream" object of a closed record
    awk -v accepted="$2" -v lines="$3" '
        /^authgate_requests_total\{decision="(allow|anonymous)"/ { proxied += $NF }
        /^authgate_upstream_connections_total\{reused="false"\}/ { fresh += $NF; metric = 1 }
        /^authgate_upstream_connections_total\{reused="true"\}/ { metric = 1 }
        END {
            printf "{\"proxied\":%d,\"accepted\":%d,\"metric_new\":%d,\"log_lines\":%d}",
                proxied, accepted, metric ? fresh : -1, lines
        }' <<<"$1"
}

json_field() { # json key → number
    sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" <<<"$1" | head -n1
}

# ---------------------------------------------------------------- measurements
should_run() {
    [[ " ${SCENARIO_LIST[*]} " == *" $1 "* ]] && [[ -z ${SKIP[$1]:-} ]]
}

# Starts the scenario's server and checks it; on failure records the skip and returns 1.
bring_up() {
    local s="$1" why
    SCENARIO="$s"
    if ! start_server "$s"; then
        skip "$s" "the server did not start ($LAYOUT layout; see logs/$s-$LAYOUT.log)"
        stop_server
        return 1
    fi
    if ! why="$(preflight)"; then
        skip "$s" "pre-flight check failed ($LAYOUT layout): $why"
        stop_server
        return 1
    fi
}

measure_closed() { # scenario round
    local s="$1" round="$2" c0 c1 t0 t1 s0 s1 wall json rss req rps p50 p99 cpu steal
    local log0 acc0 metrics="" upstream=""
    log0="$(reuse_log_lines "$WORK/logs/$s-$LAYOUT.log")"
    acc0="$(upstream_accepted)"
    bring_up "$s" || return 0
    if ((WARMUP > 0)); then
        run_wrk "$WARMUP" "$CONNECTIONS" "$WRK_THREADS" >/dev/null || true
    fi
    c0="$(cpu_ticks "$SERVER_PID")"
    s0="$(cpu_snapshot)"
    t0="$(date +%s.%N)"
    if ! json="$(run_wrk "$DURATION" "$CONNECTIONS" "$WRK_THREADS")" || [[ -z $json ]]; then
        skip "$s" "wrk did not complete ($LAYOUT layout)"
        stop_server
        return 0
    fi
    t1="$(date +%s.%N)"
    s1="$(cpu_snapshot)"
    c1="$(cpu_ticks "$SERVER_PID")"
    rss="$(rss_kb "$SERVER_PID")"
    if [[ $s == authgate-* ]]; then
        metrics="$(curl -s --max-time 5 "http://127.0.0.1:$ADMIN_PORT/metrics" || true)"
    fi
    stop_server
    if [[ $s == authgate-* ]]; then
        # Less the connection of each count's own request.
        upstream=",\"upstream\":$(upstream_json "$metrics" $(($(upstream_accepted) - acc0 - 1)) \
            $(($(reuse_log_lines "$WORK/logs/$s-$LAYOUT.log") - log0)))"
    fi
    steal="$(steal_pct "$s0" "$s1")"
    wall="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
    printf '{"kind":"closed","layout":"%s","scenario":"%s","round":%d,"connections":%d,"cpu_ticks":%d,"clk_tck":%d,"wall_s":%s,"rss_kb":%d,"steal_pct":%s,"wrk":%s%s}\n' \
        "$LAYOUT" "$s" "$round" "$CONNECTIONS" $((c1 - c0)) "$CLK_TCK" "$wall" "$rss" "$steal" "$json" "$upstream" >>"$RAW"
    req="$(json_field "$json" requests)"
    rps="$(awk -v r="$req" -v d="$(json_field "$json" duration_us)" 'BEGIN { printf "%.0f", r / (d / 1e6) }')"
    p50="$(json_field "$json" p50_us)"
    p99="$(json_field "$json" p99_us)"
    cpu="$(awk -v t=$((c1 - c0)) -v h="$CLK_TCK" -v r="$req" 'BEGIN { printf "%.1f", (r > 0) ? t / h * 1e6 / r : 0 }')"
    log "$(printf '%-8s round %d  %-20s %8s req/s  p50 %6.0f µs  p99 %7.0f µs  %6s CPU µs/req  RSS %6d KiB  steal %s%%' \
        "$LAYOUT" "$round" "$s" "$rps" "$p50" "$p99" "$cpu" "$rss" "$steal")"
}

measure_open() { # scenario round
    local s="$1" round="$2" json auth=() s0 s1 steal
    bring_up "$s" || return 0
    if ((WARMUP > 0)); then
        run_wrk "$WARMUP" "$CONNECTIONS" "$WRK_THREADS" >/dev/null || true
    fi
    if [[ -n $TOKEN_FILE ]]; then
        auth=(--token-file "$TOKEN_FILE")
    else
        auth=("${AUTH_ARGS[@]}")
    fi
    s0="$(cpu_snapshot)"
    if ! json="$(timeout $((OPEN_DURATION + 30)) "${PIN_LOAD[@]}" "$BIN/bench-openloop" --url "$SERVER_URL" \
        --rate "$RATE" --duration-secs "$OPEN_DURATION" --connections "$CONNECTIONS" --threads 1 \
        "${auth[@]}")"; then
        log "open loop failed for $s ($LAYOUT)"
        stop_server
        return 0
    fi
    s1="$(cpu_snapshot)"
    stop_server
    steal="$(steal_pct "$s0" "$s1")"
    printf '{"kind":"openloop","layout":"%s","scenario":"%s","round":%d,"steal_pct":%s,"result":%s}\n' \
        "$LAYOUT" "$s" "$round" "$steal" "$json" >>"$RAW"
    log "$(printf 'open %s round %d  %-20s p50 %6s µs  p90 %6s µs  p99 %7s µs  ok %s  non2xx %s  errors %s  lag p99 %s µs  steal %s%%' \
        "$LAYOUT" "$round" "$s" "$(json_field "$json" p50_us)" "$(json_field "$json" p90_us)" \
        "$(json_field "$json" p99_us)" "$(json_field "$json" ok)" "$(json_field "$json" non2xx)" \
        "$(json_field "$json" errors)" "$(json_field "$json" dispatch_lag_p99_us)" "$steal")"
}

measure_rss() { # scenario
    local s="$1" json rss
    bring_up "$s" || return 0
    if ! json="$(run_wrk "$DURATION" "$RSS_CONNECTIONS" "$WRK_THREADS")" || [[ -z $json ]]; then
        log "wrk at $RSS_CONNECTIONS connections failed for $s"
        stop_server
        return 0
    fi
    rss="$(rss_kb "$SERVER_PID")"
    stop_server
    printf '{"kind":"rss256","scenario":"%s","connections":%d,"rss_kb":%d,"wrk":%s}\n' \
        "$s" "$RSS_CONNECTIONS" "$rss" "$json" >>"$RAW"
    log "$(printf 'rss  %-20s %d connections: peak RSS %d KiB' "$s" "$RSS_CONNECTIONS" "$rss")"
}

LOADAVG_START="$(cut -d' ' -f1-3 /proc/loadavg)"
RUN_CPU_START="$(cpu_snapshot)"
STARTED_AT="$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
START_SECONDS=$SECONDS
start_shared_upstreams

log "closed loop: $ROUNDS round(s) × layouts (${LAYOUT_LIST[*]}) × ${#SCENARIO_LIST[@]} scenarios, ${DURATION}s each after ${WARMUP}s warm-up, $CONNECTIONS connections"
for ((round = 1; round <= ROUNDS; round++)); do
    for layout in "${LAYOUT_LIST[@]}"; do
        set_layout "$layout"
        for s in "${SCENARIO_LIST[@]}"; do
            should_run "$s" && measure_closed "$s" "$round"
        done
    done
done

OPEN_LAYOUT="${LAYOUT_LIST[0]}"
log "open loop: $RATE req/s for ${OPEN_DURATION}s, $ROUNDS round(s), $OPEN_LAYOUT layout"
set_layout "$OPEN_LAYOUT"
for ((round = 1; round <= ROUNDS; round++)); do
    for s in "${SCENARIO_LIST[@]}"; do
        should_run "$s" && measure_open "$s" "$round"
    done
done

RSS_LAYOUT=""
if ((RSS_CONNECTIONS > 0)); then
    RSS_LAYOUT="${LAYOUT_LIST[${#LAYOUT_LIST[@]} - 1]}"
    log "peak RSS at $RSS_CONNECTIONS connections, $RSS_LAYOUT layout"
    set_layout "$RSS_LAYOUT"
    for s in "${SCENARIO_LIST[@]}"; do
        should_run "$s" && measure_rss "$s"
    done
fi
if [[ $TLS_ROWS == 1 ]]; then
    measure_tls_rows
fi
LOADAVG_END="$(cut -d' ' -f1-3 /proc/loadavg)"
RUN_STEAL="$(steal_pct "$RUN_CPU_START" "$(cpu_snapshot)")"
ELAPSED=$((SECONDS - START_SECONDS))

# ---------------------------------------------------------------- report
TABLES="$WORK/tables.md"
: >"$TABLES"
if ((${#SCENARIO_LIST[@]} > 0)); then
    "$BIN/bench-report" --raw "$RAW" --connections "$CONNECTIONS" \
        --layouts "$(IFS=,; echo "${LAYOUT_LIST[*]}")" --rss-layout "${RSS_LAYOUT:-none}" >"$TABLES"
fi

CPU_MODEL="$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
MEM_TOTAL="$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
# shellcheck disable=SC1091 # the machine's own file, read for its name only
OS_NAME="$( (. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-unknown}") || echo unknown)"
GIT_REV="$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$REPO_DIR" status --porcelain 2>/dev/null | head -n1)" ]]; then
    GIT_REV="$GIT_REV + uncommitted changes"
fi

mkdir -p "$(dirname "$OUTPUT")"
# Hand-written history (before/after figures of optimisations) survives a new run.
HISTORY=""
if [[ -f $OUTPUT ]]; then
    HISTORY="$(sed -n '/^## Before and after/,$p' "$OUTPUT")"
fi
{
    echo "# authgate load benchmarks"
    echo
    echo "Produced by \`bench/run.sh${SCRIPT_ARGS:+ $SCRIPT_ARGS}\` on $STARTED_AT in ${ELAPSED}s."
    echo "How each figure is measured and how to read the tables: [bench/README.md](README.md)."
    echo
    echo "## Machine"
    echo
    echo "- CPUs: $NPROC × $CPU_MODEL"
    echo "- Memory: $MEM_TOTAL"
    echo "- Kernel: $(uname -sr); OS: $OS_NAME"
    if grep -qw hypervisor /proc/cpuinfo; then
        echo "- Virtual machine (the CPU reports the hypervisor flag): the host can steal CPU time"
    fi
    echo "- Load average before / after the run: $LOADAVG_START / $LOADAVG_END"
    echo "- CPU time taken by the hypervisor (steal, /proc/stat) over the whole run: $RUN_STEAL %"
    echo
    echo "## Software"
    echo
    echo "- authgate: $("$AUTHGATE" --version 2>/dev/null || echo unknown), commit $GIT_REV, $(rustc --version 2>/dev/null || echo rustc unknown)"
    if [[ -n $BASELINE_AUTHGATE ]]; then
        echo "- baseline authgate (the \`@baseline\` rows): \`$BASELINE_AUTHGATE\`, $("$BASELINE_AUTHGATE" --version 2>/dev/null || echo unknown), sha256 $(sha256sum "$BASELINE_AUTHGATE" | cut -c1-12)"
    fi
    echo "- $HAPROXY_VERSION"
    echo "- $NGINX_VERSION"
    echo "- wrk: $WRK_VERSION; open loop: bench-openloop (bench crate)"
    echo "- $OPENSSL_VERSION"
    echo
    echo "## Settings"
    echo
    if ((${#SCENARIO_LIST[@]} == 0)); then
        echo "- only the TLS and HTTP/2 rows (--only-tls): ${DURATION}s per run after ${WARMUP}s of warm-up (wrk), $ROUNDS round(s), layout: ${LAYOUT_LIST[0]}"
    fi
    echo "- closed loop: $CONNECTIONS connections, ${DURATION}s per run after ${WARMUP}s of warm-up, $ROUNDS round(s), layouts: ${LAYOUT_LIST[*]}"
    echo "- open loop: $RATE req/s for ${OPEN_DURATION}s, $CONNECTIONS connections, layout: $OPEN_LAYOUT"
    if [[ -n $RSS_LAYOUT ]]; then
        echo "- peak RSS pass: $RSS_CONNECTIONS connections, ${DURATION}s, layout: $RSS_LAYOUT"
    else
        echo "- peak RSS pass at 256 connections: not run (--quick or --rss-connections 0)"
    fi
    echo "- authgate-eddsa-many: $TOKENS distinct EdDSA tokens cycled, verified-token cache of $CACHE_ENTRIES entries"
    echo "- authgate-limit-*: one per-subject policy on the route at a rate no run reaches (every request checked and counted, none refused); -redis counts in a redis-server of the bench's own ($(redis-server --version | cut -d' ' -f3)) on this machine, timeout 1000 ms, on CPU 1 in the pinned layout; authgate-revoked-100k: that Redis with $REVOKED revoked subjects (not the bench's), revocation on, require_iat, no rate limit"
    echo "- authgate: as shipped (default threads: the CPUs available, 1 when pinned; access log $([[ $ACCESS_LOG == 1 ]] && echo on || echo off)) except the -nolog and -tuned rows; HAProxy log on only in haproxy-hs256-log; nginx logging off"
    for n in "${NOTES[@]}"; do
        echo "- note: $n"
    done
    echo
    echo "## Results"
    echo
    cat "$TABLES"
    if [[ $TLS_ROWS == 1 ]]; then
        echo
        cat "$WORK/tls-table.md"
    fi
    if [[ -n $HISTORY ]]; then
        echo
        echo "$HISTORY"
    fi
} >"$OUTPUT"

mkdir -p "$BENCH_DIR/out"
cp "$RAW" "$BENCH_DIR/out/raw.jsonl"
rm -rf "$BENCH_DIR/out/logs"
cp -r "$WORK/logs" "$BENCH_DIR/out/logs"

cat "$TABLES"
[[ $TLS_ROWS == 1 ]] && cat "$WORK/tls-table.md"
log "results written to $OUTPUT (raw data and server logs in bench/out/)"
