# Shell helpers shared by bench/run.sh and bench/callgrind.sh (sourced, not run).
# The sourcing script sets SCRIPT_NAME first, for its error messages. Sets BENCH_DIR,
# REPO_DIR, TARGET_DIR (CARGO_TARGET_DIR or <repo>/target) and BIN (its release/).

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_DIR/target}"
BIN="$TARGET_DIR/release"
# 1 while apt_install's policy-rc.d is in place: a script's exit trap removes it.
POLICY_RC_CREATED=0

die() {
    echo "${SCRIPT_NAME:-bench}: $*" >&2
    exit 1
}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

descendants() {
    local c
    for c in $(pgrep -P "$1" 2>/dev/null || true); do
        echo "$c"
        descendants "$c"
    done
}

alive() {
    # A zombie counts as gone: it has exited and only waits to be reaped.
    [[ -r /proc/$1/stat ]] && [[ "$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null)" != Z ]]
}

# apt_install PACKAGE...: installs with apt (sudo unless root), with policy-rc.d
# keeping the packages' services (nginx on port 80) from being started.
apt_install() {
    local sudo=() rc=0
    if [[ $(id -u) != 0 ]]; then
        command -v sudo >/dev/null || die "missing $*: run as root or install them"
        sudo=(sudo)
    fi
    log "installing with apt: $*"
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
        "${sudo[@]}" chmod +x /usr/sbin/policy-rc.d
        POLICY_RC_CREATED=1
    fi
    "${sudo[@]}" apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
            --no-install-recommends "$@" >&2 || rc=$?
    remove_policy_rc
    ((rc == 0)) || die "apt-get install $* failed ($rc)"
}

# Removes the policy-rc.d apt_install put in place, if it is still there.
remove_policy_rc() {
    if [[ $POLICY_RC_CREATED == 1 ]]; then
        if [[ $(id -u) == 0 ]]; then rm -f /usr/sbin/policy-rc.d; else sudo rm -f /usr/sbin/policy-rc.d; fi
        POLICY_RC_CREATED=0
    fi
}

# The release binaries both scripts run (authgate and the bench crate's).
build_release() {
    log "building release binaries (authgate, bench crate) into $TARGET_DIR"
    (cd "$REPO_DIR" && cargo build --release -p authgate -p authgate-bench) >&2
}

render() { # template output [KEY=VALUE...]
    local tpl="$1" out="$2" expr=(-e "") kv
    shift 2
    for kv in "$@"; do
        expr+=(-e "s|@${kv%%=*}@|${kv#*=}|g")
    done
    sed "${expr[@]}" "$tpl" >"$out"
    ! grep -q '@[A-Z_]*@' "$out" || die "unfilled placeholder in $out"
}

free_port() {
    # Below the ephemeral range, so no client socket of a previous run sits on it.
    local p i
    for ((i = 0; i < 200; i++)); do
        p=$((20000 + RANDOM % 12000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    die "no free port found"
}

# Keys, tokens and the JWKS for every scenario, into directory $1 (sets and exports
# BETTER_AUTH_SECRET and AUTHGATE_ASSERTION_SECRET). $2: distinct EdDSA tokens, $3: the
# bench-tokens binary.
make_keys_and_tokens() {
    local dir="$1" count="$2" tokens_bin="$3"
    BETTER_AUTH_SECRET="$(openssl rand -hex 32)"
    AUTHGATE_ASSERTION_SECRET="$(openssl rand -hex 32)"
    export BETTER_AUTH_SECRET AUTHGATE_ASSERTION_SECRET
    openssl genpkey -algorithm ed25519 -out "$dir/ed25519.pem" 2>/dev/null
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/rsa.pem" 2>/dev/null
    openssl pkey -in "$dir/ed25519.pem" -outform DER -out "$dir/ed25519.der"
    openssl rsa -in "$dir/rsa.pem" -traditional -outform DER -out "$dir/rsa.der" 2>/dev/null
    openssl pkey -in "$dir/rsa.pem" -pubout -out "$dir/rsa-public.pem"
    "$tokens_bin" --out-dir "$dir" --ed25519-der "$dir/ed25519.der" --rsa-der "$dir/rsa.der" \
        --count "$count" --ttl-secs 7200 >&2
}

# The configs of the shared-state scenarios, into directory $1, built from the HS256 one
# ($1/authgate-hs256.toml, rendered first); $2: the bench Redis's URL.
#   authgate-limit-local.toml   + a rate limit (no Redis: counted in process)
#   authgate-limit-redis.toml   + the same rate limit counted in Redis (revocation off)
#   authgate-revoked.toml       + Redis with revocation on (no rate limit)
render_shared_state_configs() {
    local dir="$1" url="$2"
    render "$BENCH_DIR/templates/limit.toml" "$dir/limit.part"
    render "$BENCH_DIR/templates/redis.toml" "$dir/redis-limit.part" "REDIS_URL=$url" "REVOCATION=false"
    render "$BENCH_DIR/templates/redis.toml" "$dir/redis-revoked.part" "REDIS_URL=$url" "REVOCATION=true"
    cat "$dir/authgate-hs256.toml" "$dir/limit.part" >"$dir/authgate-limit-local.toml"
    cat "$dir/authgate-hs256.toml" "$dir/limit.part" "$dir/redis-limit.part" >"$dir/authgate-limit-redis.toml"
    cat "$dir/authgate-hs256.toml" "$dir/redis-revoked.part" >"$dir/authgate-revoked.toml"
}

# The command line of a redis-server of the bench's own on port $1 (nothing saved,
# loopback only), logging to $2; never the machine's Redis. The caller starts it in the
# background (so that it is its child) and waits with wait_redis.
redis_command() {
    REDIS_CMD=(redis-server --port "$1" --bind 127.0.0.1 --save "" --appendonly no --logfile "$2")
}

wait_redis() { # port: until it answers PING (5 s at most)
    local i
    for ((i = 0; i < 100; i++)); do
        [[ "$(redis-cli -p "$1" ping 2>/dev/null)" == PONG ]] && return 0
        sleep 0.05
    done
    die "redis-server on port $1 did not start"
}

# Writes $2 revoked subjects (revoked-user-1 …) to the Redis on port $1, as
# revoke.lua records them, in one script call.
preload_revocations() {
    local port="$1" count="$2"
    redis-cli -p "$port" EVAL "
        local now = tonumber(redis.call('TIME')[1])
        for i = 1, tonumber(ARGV[1]) do
            redis.call('ZADD', KEYS[1], now, 'revoked-user-' .. i)
        end
        return redis.call('INCR', KEYS[2])" 2 authgate:revoked:sub authgate:revoked:version \
        "$count" >/dev/null
}
