# Shell helpers shared by bench/run.sh and bench/callgrind.sh (sourced, not run).
# The sourcing script sets SCRIPT_NAME first, for its error messages.

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
