#!/usr/bin/env bash
# The abuse run (issue 18): a valid HS256 load through authgate while idle, slowloris
# and slow-body connections hold sockets open. Passes when the valid requests' p99
# stays under 10 ms with none failing and every abusive connection is closed within
# its deadline + 1 s.
#
#   bench/abuse.sh           about 30 s after the build -> bench/RESULTS-abuse.md
#   bench/abuse.sh --help    every option
#
# What it does: builds the release binaries (lib.sh), mints an HS256 token, starts
# bench-upstream (reading every request body, as an application would) and authgate
# (release, as shipped: default threads, access log on, max_connections default) with
# short head and body deadlines, runs bench-abuse against it, then adds what authgate
# counted and logged. Everything targets 127.0.0.1, is bounded in time, and every process
# it starts is stopped on exit (also on Ctrl-C). Exit status 1 when a goal fails.
set -euo pipefail

SCRIPT_ARGS="$*"
SCRIPT_NAME=abuse.sh
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    cat <<EOF
Usage: bench/abuse.sh [options]

  --duration S          seconds of valid load, the abuse running throughout (default 20)
  --rate N              valid HS256 requests per second (default 500)
  --connections N       keep-alive connections of the valid load (default 4)
  --idle N              idle connections (default 300)
  --slowloris N         slowloris connections, half with empty lines first (default 50)
  --slow-body N         slow-body connections (default 20)
  --head-timeout S      server.header_read_timeout_secs (default 2)
  --body-timeout S      server.body_read_timeout_secs (default 3)
  --output FILE         where to write the results (default bench/RESULTS-abuse.md)
  --authgate PATH       run this authgate binary instead of the release build (say, an
                        older one, as a control: the run should then fail); if it
                        rejects body_read_timeout_secs, that line is dropped and noted
  --no-build            use the binaries already in \$CARGO_TARGET_DIR/release
  --keep                keep the temporary directory (config, token, logs)
  -h, --help            this text

Environment: CARGO_TARGET_DIR (default <repo>/target).
EOF
}

DURATION=20
RATE=500
CONNECTIONS=4
IDLE=300
SLOWLORIS=50
SLOW_BODY=20
HEAD_TIMEOUT=2
BODY_TIMEOUT=3
OUTPUT="$BENCH_DIR/RESULTS-abuse.md"
AUTHGATE_ARG=""
BUILD=1
KEEP=0

need_value() {
    [[ $# -ge 2 && -n "$2" ]] || die "$1 needs a value (see --help)"
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --duration) need_value "$@"; DURATION="$2"; shift ;;
        --rate) need_value "$@"; RATE="$2"; shift ;;
        --connections) need_value "$@"; CONNECTIONS="$2"; shift ;;
        --idle) need_value "$@"; IDLE="$2"; shift ;;
        --slowloris) need_value "$@"; SLOWLORIS="$2"; shift ;;
        --slow-body) need_value "$@"; SLOW_BODY="$2"; shift ;;
        --head-timeout) need_value "$@"; HEAD_TIMEOUT="$2"; shift ;;
        --body-timeout) need_value "$@"; BODY_TIMEOUT="$2"; shift ;;
        --output) need_value "$@"; OUTPUT="$2"; shift ;;
        --authgate) need_value "$@"; AUTHGATE_ARG="$2"; shift ;;
        --no-build) BUILD=0 ;;
        --keep) KEEP=1 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
done

for pair in "duration:$DURATION" "rate:$RATE" "connections:$CONNECTIONS" "idle:$IDLE" \
    "slowloris:$SLOWLORIS" "slow-body:$SLOW_BODY" "head-timeout:$HEAD_TIMEOUT" "body-timeout:$BODY_TIMEOUT"; do
    [[ "${pair#*:}" =~ ^[0-9]+$ ]] || die "--${pair%%:*} must be a whole number, got '${pair#*:}'"
done
((DURATION >= 1 && DURATION <= 300)) || die "--duration must be 1..300 seconds"
((HEAD_TIMEOUT >= 1 && BODY_TIMEOUT >= 1)) || die "the timeouts must be at least 1 s"
((IDLE + SLOWLORIS + SLOW_BODY <= 5000)) || die "at most 5000 abusive connections"

# ---------------------------------------------------------------- cleanup
PIDS=()
WORK=""

stop_pid() { # pid signal: as run.sh does, then SIGKILL after 2.5 s
    local pid="$1" sig="$2" i
    kill "-$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        alive "$pid" || break
        sleep 0.05
    done
    if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    wait "$pid" 2>/dev/null || true
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
            echo "abuse.sh: work directory kept: $WORK" >&2
        else
            rm -rf "$WORK"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- tools and build
missing=()
command -v openssl >/dev/null || missing+=(openssl)
command -v curl >/dev/null || missing+=(curl)
if [[ $BUILD == 1 ]]; then command -v cmake >/dev/null || missing+=(cmake); fi
((${#missing[@]} == 0)) || apt_install "${missing[@]}"

if [[ $BUILD == 1 ]]; then build_release; fi
AUTHGATE="${AUTHGATE_ARG:-$BIN/authgate}"
for b in "$AUTHGATE" "$BIN/bench-upstream" "$BIN/bench-tokens" "$BIN/bench-abuse"; do
    [[ -x $b ]] || die "$b not found: build it (drop --no-build) or set CARGO_TARGET_DIR"
done

# Every abusive connection is a descriptor on both sides, in two of our processes.
need_fds=$((2 * (IDLE + SLOWLORIS + SLOW_BODY + CONNECTIONS) + 256))
if (($(ulimit -n) < need_fds)); then
    ulimit -n "$need_fds" 2>/dev/null || ulimit -n "$(ulimit -Hn)" ||
        die "open-file limit $(ulimit -n) is below the $need_fds this run needs"
fi

# ---------------------------------------------------------------- work directory
WORK="$(mktemp -d /tmp/authgate-abuse.XXXXXX)"
log "generating keys and tokens in $WORK"
make_keys_and_tokens "$WORK" 10 "$BIN/bench-tokens"
render "$BENCH_DIR/templates/authgate-abuse.toml" "$WORK/authgate.toml" \
    "HEAD_TIMEOUT=$HEAD_TIMEOUT" "BODY_TIMEOUT=$BODY_TIMEOUT"
CONFIG_NOTE=""
if ! "$AUTHGATE" check --config "$WORK/authgate.toml" >"$WORK/check.txt" 2>&1; then
    # An authgate from before body_read_timeout_secs: run it without that setting.
    grep -q body_read_timeout_secs "$WORK/check.txt" ||
        die "authgate check rejects the config: $(head -n1 "$WORK/check.txt")"
    sed -i '/^body_read_timeout_secs/d' "$WORK/authgate.toml"
    "$AUTHGATE" check --config "$WORK/authgate.toml" >"$WORK/check.txt" 2>&1 ||
        die "authgate check rejects the config: $(head -n1 "$WORK/check.txt")"
    CONFIG_NOTE=" (this authgate rejects \`body_read_timeout_secs\`: run without it, so it has no body deadline)"
fi

launch() { # name signal command...: in the background, output to logs/name.log
    local name="$1" sig="$2"
    shift 2
    "$@" >>"$WORK/$name.log" 2>&1 &
    LAUNCHED=$!
    PIDS+=("$LAUNCHED:$sig")
}

wait_status() { # url want: until the URL answers that status (10 s at most)
    local deadline=$((SECONDS + 10))
    until [[ "$(curl -s -o /dev/null --max-time 1 -w '%{http_code}' "$1")" == "$2" ]]; do
        ((SECONDS < deadline)) || return 1
        sleep 0.05
    done
}

UPORT="$(free_port)"
launch upstream TERM "$BIN/bench-upstream" --listen "127.0.0.1:$UPORT" --threads 2 --read-body
wait_status "http://127.0.0.1:$UPORT/" 200 || die "bench-upstream did not start"

PORT="$(free_port)"
ADMIN_PORT="$(free_port)"
# As shipped: default threads (2 here), access log on (RUST_LOG info) to the log file.
launch authgate INT env RUST_LOG=info "$AUTHGATE" --config "$WORK/authgate.toml" \
    --listen "127.0.0.1:$PORT" --admin-listen "127.0.0.1:$ADMIN_PORT" \
    --upstream "http://127.0.0.1:$UPORT"
AUTHGATE_PID=$LAUNCHED
wait_status "http://127.0.0.1:$ADMIN_PORT/readyz" 200 || die "authgate did not become ready (see $WORK/authgate.log)"
[[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/api/bench")" == 401 ]] ||
    die "authgate answers a request without a token with something else than 401"

metric() { # name{labels} → value (0 when absent)
    curl -s --max-time 5 "http://127.0.0.1:$ADMIN_PORT/metrics" |
        awk -v m="$1" 'index($0, m " ") == 1 { v = $NF } END { print v + 0 }'
}
HEAD_BEFORE="$(metric 'authgate_requests_total{decision="reject",reason="head_timeout"}')"
BODY_BEFORE="$(metric 'authgate_requests_total{decision="reject",reason="body_timeout"}')"
LOADAVG_START="$(cut -d' ' -f1-3 /proc/loadavg)"
STARTED_AT="$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
CPU0="$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$AUTHGATE_PID/stat")"

log "abuse run: $RATE req/s HS256 on $CONNECTIONS connections for ${DURATION}s with $IDLE idle, $SLOWLORIS slowloris, $SLOW_BODY slow-body connections (head deadline ${HEAD_TIMEOUT}s, body deadline ${BODY_TIMEOUT}s)"
rc=0
"$BIN/bench-abuse" --url "http://127.0.0.1:$PORT/api/bench" --token-file "$WORK/hs256.token" \
    --duration-secs "$DURATION" --rate "$RATE" --connections "$CONNECTIONS" \
    --idle "$IDLE" --slowloris "$SLOWLORIS" --slow-body "$SLOW_BODY" \
    --head-deadline-secs "$HEAD_TIMEOUT" --body-deadline-secs "$BODY_TIMEOUT" \
    --markdown "$WORK/abuse.md" >"$WORK/abuse.json" || rc=$?
((rc <= 1)) || die "bench-abuse failed ($rc)"

CPU1="$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$AUTHGATE_PID/stat")"
HEAD_AFTER="$(metric 'authgate_requests_total{decision="reject",reason="head_timeout"}')"
BODY_AFTER="$(metric 'authgate_requests_total{decision="reject",reason="body_timeout"}')"
CONN_LIMIT="$(metric 'authgate_requests_total{decision="reject",reason="connection_limit"}')"
RSS_KB="$(awk '/^VmHWM:/ { print $2 }' "/proc/$AUTHGATE_PID/status")"
LOADAVG_END="$(cut -d' ' -f1-3 /proc/loadavg)"
stop_pid "$AUTHGATE_PID" INT
LOG_HEAD="$(grep -c 'reason=head_timeout' "$WORK/authgate.log" || true)"
LOG_BODY="$(grep -c 'reason=body_timeout' "$WORK/authgate.log" || true)"
LOG_ERRORS="$(grep -c ' ERROR ' "$WORK/authgate.log" || true)"

GIT_REV="$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$REPO_DIR" status --porcelain 2>/dev/null | head -n1)" ]]; then
    GIT_REV="$GIT_REV + uncommitted changes"
fi
mkdir -p "$(dirname "$OUTPUT")"
{
    echo "# authgate under abuse: slow and idle clients beside a valid load"
    echo
    echo "Produced by \`bench/abuse.sh${SCRIPT_ARGS:+ $SCRIPT_ARGS}\` on $STARTED_AT."
    echo "What the script does: [bench/README.md](README.md#the-abuse-run-abusesh)."
    echo
    echo "## Setup"
    echo
    echo "- Machine: $(nproc) × $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(uname -sr); load average before / after: $LOADAVG_START / $LOADAVG_END"
    if [[ -n $AUTHGATE_ARG ]]; then
        echo "- authgate: \`$AUTHGATE\` ($("$AUTHGATE" --version 2>/dev/null || echo unknown), sha256 $(sha256sum "$AUTHGATE" | cut -c1-12)), as shipped (default threads, access log on to a file), nothing pinned; bench tools from commit $GIT_REV"
    else
        echo "- authgate: $("$AUTHGATE" --version 2>/dev/null || echo unknown), commit $GIT_REV, release build, as shipped (default threads, access log on to a file), nothing pinned"
    fi
    echo "- config: \`server.header_read_timeout_secs = $HEAD_TIMEOUT\`, \`server.body_read_timeout_secs = $BODY_TIMEOUT\`, \`max_connections\` default; HS256 source; \`/public/**\` public$CONFIG_NOTE"
    echo "- upstream: bench-upstream \`--read-body\` (reads every request body before answering)"
    echo "- valid load: GET \`/api/bench\` with one HS256 bearer token, $RATE req/s (open loop) on $CONNECTIONS keep-alive connections for ${DURATION}s, starting 1 s after the abuse"
    echo "- abuse, all at once from the start to the end of the valid load, each connection reconnecting when closed:"
    echo "  - $IDLE idle connections (connect, send nothing)"
    echo "  - $SLOWLORIS slowloris connections: \`GET /api/bench HTTP/1.1\`, \`Host\`, then one header line every 1 s; half begin with \`\\r\\n\\r\\n\`"
    echo "  - $SLOW_BODY slow-body connections: \`POST /public/upload\` with \`Content-Length: 100000\`, whole head at once, then 1 body byte every 500 ms"
    echo
    echo "## Results"
    echo
    cat "$WORK/abuse.md"
    echo
    echo "### What authgate counted and logged during the run"
    echo
    echo "| figure | value |"
    echo "|---|---:|"
    echo "| \`authgate_requests_total{reason=\"head_timeout\"}\` added | $(awk -v a="$HEAD_BEFORE" -v b="$HEAD_AFTER" 'BEGIN { print b - a }') |"
    echo "| \`authgate_requests_total{reason=\"body_timeout\"}\` added | $(awk -v a="$BODY_BEFORE" -v b="$BODY_AFTER" 'BEGIN { print b - a }') |"
    echo "| \`authgate_requests_total{reason=\"connection_limit\"}\` | $CONN_LIMIT |"
    echo "| access-log lines \`reason=head_timeout\` / \`reason=body_timeout\` | $LOG_HEAD / $LOG_BODY |"
    echo "| \` ERROR \` lines in its log | $LOG_ERRORS |"
    echo "| authgate CPU during the run, s | $(awk -v a="$CPU0" -v b="$CPU1" -v h="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (b - a) / h }') |"
    echo "| authgate peak RSS, MiB | $(awk -v k="${RSS_KB:-0}" 'BEGIN { printf "%.1f", k / 1024 }') |"
} >"$OUTPUT"

mkdir -p "$BENCH_DIR/out"
cp "$WORK/abuse.json" "$BENCH_DIR/out/abuse.json"
cp "$WORK/authgate.log" "$BENCH_DIR/out/abuse-authgate.log"
cat "$WORK/abuse.md"
log "results written to $OUTPUT (JSON and authgate's log in bench/out/)"
exit "$rc"
