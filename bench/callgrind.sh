#!/usr/bin/env bash
# User-space instructions per proxied request, counted by valgrind's callgrind: the
# stable figure of the benchmarks (the same binary and inputs give the same count to
# within ~1 %, however noisy the machine), side by side with HAProxy and nginx.
#
#   bench/callgrind.sh                 every scenario -> bench/out/instructions.md
#   bench/callgrind.sh --help          every option
#
# Each server runs under callgrind twice: once for BASE keep-alive requests and once for
# BASE + REQUESTS, all on one connection from curl. The difference divided by REQUESTS
# is the cost of one request, with start-up and shutdown cancelled out. Kernel time is
# not counted (callgrind sees user space only), nor is the client's or the upstream's.
# For the authgate HS256 scenario it also writes the functions that grew most between
# the two runs (per request, exclusive cost).
set -euo pipefail

SCRIPT_ARGS="$*"
SCRIPT_NAME=callgrind.sh
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL_SCENARIOS="authgate-hs256 authgate-hs256-rules authgate-hs256-nolog authgate-public authgate-eddsa-many authgate-limit-local authgate-limit-redis authgate-revoked-100k haproxy-hs256-log haproxy-hs256 haproxy-rs256 nginx"
REVOKED=100000

usage() {
    cat <<EOF
Usage: bench/callgrind.sh [options]

  --requests N     requests measured: the second run sends BASE + N (default 1000)
  --base N         requests of the first run (default 300)
  --scenarios L    comma list (default all): $ALL_SCENARIOS
  --top N          functions listed for authgate-hs256 (default 30; 0: none)
  --output FILE    where to write the tables (default bench/out/instructions.md)
  --no-install     never call apt-get; fail if a tool is missing
  --no-build       use the binaries already in \$CARGO_TARGET_DIR/release
  --keep           keep the temporary directory (configs, callgrind files, logs)
  -h, --help       this text

Scenarios: authgate as shipped (access log on, default threads) with the same HS256
token on every request, the same on a route with two claim requirements
(authgate-hs256-rules, compared with authgate-hs256), with the log off
(RUST_LOG=warn), on a public route, and with a
distinct EdDSA token on every request (each a cache miss); HS256 plus a rate limit
counted in process and in Redis (a redis-server of the script's own), and with $REVOKED
revoked subjects in memory (then also the instructions of one revocation check,
Revocations::check, inclusive); HAProxy jwt_verify HS256 with its log on (option httplog
to stdout) and off, RS256 (off); plain nginx.
EOF
}

REQUESTS=1000
BASE=300
SCENARIOS="${ALL_SCENARIOS// /,}"
TOP=30
OUTPUT="$BENCH_DIR/out/instructions.md"
INSTALL=1
BUILD=1
KEEP=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --requests) REQUESTS="${2:?--requests needs a value}"; shift ;;
        --base) BASE="${2:?--base needs a value}"; shift ;;
        --scenarios) SCENARIOS="${2:?--scenarios needs a value}"; shift ;;
        --top) TOP="${2:?--top needs a value}"; shift ;;
        --output) OUTPUT="${2:?--output needs a value}"; shift ;;
        --no-install) INSTALL=0 ;;
        --no-build) BUILD=0 ;;
        --keep) KEEP=1 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
done
for v in "$REQUESTS" "$BASE" "$TOP"; do
    [[ $v =~ ^[0-9]+$ ]] || die "--requests, --base and --top take whole numbers, got '$v'"
done
((REQUESTS >= 100 && REQUESTS <= 100000)) || die "--requests must be 100..100000"
((BASE >= 10 && BASE <= 100000)) || die "--base must be 10..100000"
IFS=',' read -r -a SCENARIO_LIST <<<"$SCENARIOS"
for s in "${SCENARIO_LIST[@]}"; do
    [[ " $ALL_SCENARIOS " == *" $s "* ]] || die "unknown scenario '$s' ($ALL_SCENARIOS)"
done

# ---------------------------------------------------------------- tools and build
missing=()
for t in valgrind:valgrind callgrind_annotate:valgrind haproxy:haproxy nginx:nginx \
    openssl:openssl curl:curl python3:python3 redis-server:redis-server; do
    command -v "${t%%:*}" >/dev/null || missing+=("${t#*:}")
done
# Pingora's zlib-ng build needs cmake.
if [[ $BUILD == 1 ]]; then command -v cmake >/dev/null || missing+=(cmake); fi
if ((${#missing[@]} > 0)); then
    [[ $INSTALL == 1 ]] || die "missing ${missing[*]} and --no-install was given"
    apt_install "${missing[@]}"
fi
if [[ $BUILD == 1 ]]; then
    build_release
fi
AUTHGATE="$BIN/authgate"
for b in "$AUTHGATE" "$BIN/bench-upstream" "$BIN/bench-tokens"; do
    [[ -x $b ]] || die "$b not found: build it (drop --no-build) or set CARGO_TARGET_DIR"
done

# ---------------------------------------------------------------- work directory
PIDS=()
WORK="$(mktemp -d /tmp/authgate-callgrind.XXXXXX)"
cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    remove_policy_rc
    for p in "${PIDS[@]}"; do
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    if [[ $KEEP == 1 || $rc != 0 ]]; then
        echo "callgrind.sh: work directory kept: $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$WORK/logs" "$WORK/nginx-tmp" "$WORK/cg"

TOTAL=$((BASE + REQUESTS))
log "generating keys and $((TOTAL + 20)) EdDSA tokens in $WORK"
make_keys_and_tokens "$WORK" $((TOTAL + 20)) "$BIN/bench-tokens"

UPORT="$(free_port)"
"$BIN/bench-upstream" --listen "127.0.0.1:$UPORT" --threads 1 >"$WORK/logs/upstream.log" 2>&1 &
PIDS+=($!)
JWKS_PORT="$(free_port)"
"$BIN/bench-upstream" --listen "127.0.0.1:$JWKS_PORT" --threads 1 --jwks "$WORK/jwks.json" \
    >"$WORK/logs/jwks.log" 2>&1 &
PIDS+=($!)
for p in "$UPORT" "$JWKS_PORT"; do
    for ((i = 0; i < 100; i++)); do
        curl -s -o /dev/null "http://127.0.0.1:$p/" && break
        sleep 0.05
    done
done
render "$BENCH_DIR/templates/authgate-hs256.toml" "$WORK/authgate-hs256.toml"
render "$BENCH_DIR/templates/authgate-jwks-many.toml" "$WORK/authgate-jwks-many.toml" \
    "JWKS_PORT=$JWKS_PORT" "CACHE_ENTRIES=100"
REDIS_PORT="$(free_port)"
render_shared_state_configs "$WORK" "redis://127.0.0.1:$REDIS_PORT"
if [[ " ${SCENARIO_LIST[*]} " == *" authgate-limit-redis "* || " ${SCENARIO_LIST[*]} " == *" authgate-revoked-100k "* ]]; then
    redis_command "$REDIS_PORT" "$WORK/logs/redis.log"
    "${REDIS_CMD[@]}" >/dev/null 2>&1 &
    PIDS+=($!)
    wait_redis "$REDIS_PORT"
    preload_revocations "$REDIS_PORT" "$REVOKED"
fi

# curl_config FILE URL COUNT [TOKEN_FILE|-TOKEN]: COUNT requests for one curl on one
# keep-alive connection, each printing its status. A token file gives each request its
# own token (line n for request n); a token alone, the same on every request.
curl_config() {
    local file="$1" url="$2" count="$3" auth="${4:-}"
    python3 - "$file" "$url" "$count" "$auth" <<'PY'
import sys
path, url, count, auth = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
tokens = None
if auth.startswith("-"):
    tokens = [auth[1:]] * count
elif auth:
    with open(auth) as f:
        tokens = [line.strip() for line in f if line.strip()]
    if len(tokens) < count:
        sys.exit(f"{auth}: {len(tokens)} tokens, {count} needed")
with open(path, "w") as out:
    for n in range(count):
        out.write(f'url = "{url}"\noutput = "/dev/null"\nwrite-out = "%{{http_code}}\\n"\n')
        if tokens:
            out.write(f'header = "Authorization: Bearer {tokens[n]}"\n')
        if n + 1 < count:
            out.write("next\n")
PY
}

# run_one SCENARIO COUNT: starts the scenario's server under callgrind, sends COUNT
# requests, stops it; prints the instructions counted.
run_one() {
    local s="$1" count="$2" port admin cfg rust_log=info url auth="" cmd=() sig pid i got
    port="$(free_port)"
    url="http://127.0.0.1:$port/api/bench"
    local token_hs256 token_rs256
    token_hs256="$(tr -d '\n' <"$WORK/hs256.token")"
    token_rs256="$(tr -d '\n' <"$WORK/rs256.token")"
    case "$s" in
        authgate-*)
            admin="$(free_port)"
            cfg="$WORK/authgate-hs256.toml"
            auth="-$token_hs256"
            case "$s" in
                authgate-hs256-nolog) rust_log=warn ;;
                authgate-public) url="http://127.0.0.1:$port/public/bench"; auth="" ;;
                authgate-hs256-rules) url="http://127.0.0.1:$port/rules/bench" ;;
                authgate-eddsa-many) cfg="$WORK/authgate-jwks-many.toml"; auth="$WORK/eddsa-many.tokens" ;;
                authgate-limit-local) cfg="$WORK/authgate-limit-local.toml" ;;
                authgate-limit-redis) cfg="$WORK/authgate-limit-redis.toml" ;;
                authgate-revoked-100k) cfg="$WORK/authgate-revoked.toml" ;;
            esac
            # As shipped: default threads, access log on (RUST_LOG unset means info).
            cmd=("$AUTHGATE" --config "$cfg" --listen "127.0.0.1:$port"
                --admin-listen "127.0.0.1:$admin" --upstream "http://127.0.0.1:$UPORT")
            # Graceful stop, as in production: exits once the last connection is idle.
            sig=TERM
            ;;
        haproxy-*)
            local alg=HS256 key="$BETTER_AUTH_SECRET" logline="no log"
            auth="-$token_hs256"
            if [[ $s == haproxy-rs256 ]]; then
                alg=RS256; key="$WORK/rsa-public.pem"; auth="-$token_rs256"
            fi
            [[ $s == haproxy-hs256-log ]] && logline="log stdout format raw local0"
            render "$BENCH_DIR/templates/haproxy-jwt.cfg" "$WORK/$s.cfg" "THREADS=1" "PORT=$port" \
                "UPORT=$UPORT" "ALG=$alg" "KEY=$key" "LEEWAY=30" "LOG=$logline"
            cmd=(haproxy -f "$WORK/$s.cfg" -db)
            sig=TERM
            ;;
        nginx)
            render "$BENCH_DIR/templates/nginx.conf" "$WORK/nginx.conf" "WORKERS=1" "PORT=$port" \
                "UPORT=$UPORT" "WORK=$WORK"
            # One process: with a master, the worker would be a forked child.
            sed -i 's/^master_process on;/master_process off;/' "$WORK/nginx.conf"
            cmd=(nginx -p "$WORK" -e "$WORK/logs/nginx-error.log" -c "$WORK/nginx.conf")
            sig=TERM
            ;;
    esac
    local out="$WORK/cg/$s-$count"
    # RUST_LOG is set outside valgrind: under it, `env` would be what gets counted.
    RUST_LOG="$rust_log" valgrind --tool=callgrind --callgrind-out-file="$out.%p" --dump-instr=no \
        "${cmd[@]}" >"$WORK/logs/$s-$count.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    # Ready when it proxies one request (a few probes more or less change the count by
    # well under 0.1 %).
    local probe=(-s -o /dev/null -w '%{http_code}' --max-time 5)
    [[ $auth == -* ]] && probe+=(-H "Authorization: Bearer ${auth#-}")
    [[ -n $auth && $auth != -* ]] && probe+=(-H "Authorization: Bearer $(tail -n1 "$auth")")
    for ((i = 0; i < 600; i++)); do
        [[ "$(curl "${probe[@]}" "$url" 2>/dev/null || true)" == 200 ]] && break
        alive "$pid" || { tail -n 5 "$WORK/logs/$s-$count.log" >&2; die "$s did not start"; }
        sleep 0.2
    done
    ((i < 600)) || die "$s did not answer 200 within 120 s (see $WORK/logs/$s-$count.log)"
    curl_config "$WORK/$s-$count.curl" "$url" "$count" "$auth"
    got="$(curl -s -K "$WORK/$s-$count.curl" | grep -c '^200$' || true)"
    ((got == count)) || die "$s: $got of $count requests answered 200"
    kill "-$sig" "$pid"
    wait "$pid" || true
    awk '/^summary:/ { s += $2 } END { print s + 0 }' "$out".*
}

# ---------------------------------------------------------------- measurements
declare -A PER_REQUEST=()
for s in "${SCENARIO_LIST[@]}"; do
    a="$(run_one "$s" "$BASE")"
    b="$(run_one "$s" "$TOTAL")"
    PER_REQUEST[$s]=$(((b - a) / REQUESTS))
    log "$(printf '%-22s %12d instructions for %d requests, %12d for %d: %8d per request' \
        "$s" "$a" "$BASE" "$b" "$TOTAL" "${PER_REQUEST[$s]}")"
done

# Per-function growth between the two authgate-hs256 runs, per request.
TOP_TABLE=""
if ((TOP > 0)) && [[ -n ${PER_REQUEST[authgate-hs256]:-} ]]; then
    for n in "$BASE" "$TOTAL"; do
        callgrind_annotate --inclusive=no --threshold=100 "$WORK/cg/authgate-hs256-$n".* \
            >"$WORK/annotate-$n.txt" 2>/dev/null || true
    done
    TOP_TABLE="$(python3 - "$WORK/annotate-$BASE.txt" "$WORK/annotate-$TOTAL.txt" "$REQUESTS" "$TOP" <<'PY'
import re, sys
def load(path):
    costs = {}
    for line in open(path, errors="replace"):
        m = re.match(r"\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*)$", line)
        if m and ":" in m.group(2):
            name = m.group(2).strip()
            costs[name] = costs.get(name, 0) + int(m.group(1).replace(",", ""))
    return costs
a, b = load(sys.argv[1]), load(sys.argv[2])
n, top = int(sys.argv[3]), int(sys.argv[4])
rows = sorted(((b.get(k, 0) - a.get(k, 0)) / n, k) for k in set(a) | set(b))
rows.reverse()
total = sum(r[0] for r in rows if r[0] > 0)
print("| instructions per request | share | function (file:function [object]) |")
print("|---:|---:|---|")
for cost, name in rows[:top]:
    name = name.replace("|", "\\|")
    if len(name) > 160:
        name = name[:157] + "..."
    print(f"| {cost:,.0f} | {100 * cost / total:.1f} % | `{name}` |")
PY
)"
fi

# Instructions of one revocation check (Revocations::check, inclusive, kept out of line
# for this) in each authgate-revoked-100k run, divided by that run's requests. Not the
# difference of the two runs: the look-up's cost depends on where the table's random
# hash seed puts the subject, which changes from process to process.
CHECK_COST=""
if [[ -n ${PER_REQUEST[authgate-revoked-100k]:-} ]]; then
    for n in "$BASE" "$TOTAL"; do
        callgrind_annotate --inclusive=yes --threshold=100 "$WORK/cg/authgate-revoked-100k-$n".* \
            >"$WORK/annotate-revoked-$n.txt" 2>/dev/null || true
    done
    CHECK_COST="$(python3 - "$WORK/annotate-revoked-$BASE.txt" "$BASE" "$WORK/annotate-revoked-$TOTAL.txt" "$TOTAL" <<'PY'
import re, sys
def cost(path):
    total = 0
    for line in open(path, errors="replace"):
        m = re.match(r"\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*)$", line)
        if m and "Revocations::check" in m.group(2):
            total += int(m.group(1).replace(",", ""))
    return total
runs = [(cost(sys.argv[i]), int(sys.argv[i + 1])) for i in (1, 3)]
print(", ".join(f"{c / n:.0f} in the {n}-request run" for c, n in runs if c))
PY
)"
    log "one revocation check (Revocations::check, inclusive): ${CHECK_COST:-not found}"
fi

label() {
    case "$1" in
        authgate-hs256) echo "authgate HS256, as shipped (access log on)" ;;
        authgate-hs256-rules) echo "authgate HS256 on a route with two claim requirements (role, emailVerified)" ;;
        authgate-hs256-nolog) echo "authgate HS256, access log off (RUST_LOG=warn)" ;;
        authgate-public) echo "authgate public route, as shipped (access log on)" ;;
        authgate-eddsa-many) echo "authgate EdDSA, a distinct token per request (cache miss), access log on" ;;
        authgate-limit-local) echo "authgate HS256 + a rate limit counted in process, access log on" ;;
        authgate-limit-redis) echo "authgate HS256 + a rate limit counted in Redis (one EVALSHA), access log on" ;;
        authgate-revoked-100k) echo "authgate HS256, $REVOKED revoked subjects in memory, access log on" ;;
        haproxy-hs256-log) echo "HAProxy jwt_verify HS256 + exp, log on (option httplog, stdout)" ;;
        haproxy-hs256) echo "HAProxy jwt_verify HS256 + exp, log off" ;;
        haproxy-rs256) echo "HAProxy jwt_verify RS256 + exp, log off" ;;
        nginx) echo "nginx reverse proxy, no log" ;;
    esac
}
reference() { # scenario → the scenario it is compared with
    case "$1" in
        authgate-hs256) echo haproxy-hs256-log ;;
        authgate-hs256-rules) echo authgate-hs256 ;;
        authgate-hs256-nolog) echo haproxy-hs256 ;;
        authgate-public) echo nginx ;;
        authgate-eddsa-many) echo haproxy-rs256 ;;
        authgate-limit-local | authgate-limit-redis | authgate-revoked-100k) echo authgate-hs256 ;;
    esac
}

mkdir -p "$(dirname "$OUTPUT")"
{
    echo "# User-space instructions per request (callgrind)"
    echo
    echo "Produced by \`bench/callgrind.sh${SCRIPT_ARGS:+ $SCRIPT_ARGS}\` on $(date -u '+%Y-%m-%d %H:%M UTC'),"
    echo "commit $(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)$([[ -n "$(git -C "$REPO_DIR" status --porcelain 2>/dev/null | head -n1)" ]] && echo ' + uncommitted changes'),"
    echo "$(valgrind --version), $(haproxy -v 2>&1 | head -n1 | cut -d' ' -f1-3), $(nginx -v 2>&1 | cut -d' ' -f3)."
    echo "Each server ran $BASE then $TOTAL keep-alive requests on one connection; per request ="
    echo "(second count − first) ÷ $REQUESTS. User space of the server only: no kernel, client or upstream."
    echo
    echo "| scenario | instructions per request | ÷ reference | reference |"
    echo "|---|---:|---:|---|"
    for s in "${SCENARIO_LIST[@]}"; do
        r="$(reference "$s")"
        if [[ -n $r && -n ${PER_REQUEST[$r]:-} && ${PER_REQUEST[$r]} -gt 0 ]]; then
            ratio="$(awk -v a="${PER_REQUEST[$s]}" -v b="${PER_REQUEST[$r]}" 'BEGIN { printf "%.2f×", a / b }')"
            echo "| $(label "$s") | ${PER_REQUEST[$s]} | $ratio | $r |"
        else
            echo "| $(label "$s") | ${PER_REQUEST[$s]} | — | — |"
        fi
    done
    if [[ -n $CHECK_COST ]]; then
        echo
        echo "One revocation check with $REVOKED revoked subjects (\`Revocations::check\`, inclusive),"
        echo "instructions per request (its calls ÷ the run's requests; the health probes before"
        echo "the run are a handful of calls more): $CHECK_COST."
    fi
    if [[ -n $TOP_TABLE ]]; then
        echo
        echo "## Where authgate HS256 (as shipped) spends them: top $TOP functions, exclusive cost"
        echo
        echo "$TOP_TABLE"
    fi
} >"$OUTPUT"
cat "$OUTPUT"
log "written to $OUTPUT"
