# shellcheck shell=bash
# The TLS and HTTP/2 rows of bench/run.sh (sourced by it): authgate and HAProxy each
# terminating TLS with the same ECDSA P-256 certificate and verifying the same HS256
# token (HAProxy with jwt_verify, authgate as shipped but with its access log off, as
# in the haproxy-hs256 comparison), in the first layout of the run:
#   - https-keepalive: wrk over HTTPS, kept-alive connections, HS256 (req/s);
#   - handshake-full:  new TLS connections per second, a full handshake each
#                      (`openssl s_time -new`, one GET of a path both refuse with 401
#                      locally, so the upstream plays no part);
#   - handshake-resumed: the same with session resumption (`openssl s_time -reuse`);
#   - h2-multiplexed:  h2load over TLS (ALPN h2), 16 connections × 10 streams, HS256.
# Each is run --rounds times; the table gives medians and authgate / HAProxy.

TLS_KINDS="https-keepalive handshake-full handshake-resumed h2-multiplexed"

make_tls_cert() { # dir: tls.crt, tls.key and tls.pem (both, for HAProxy)
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -keyout "$1/tls.key" -out "$1/tls.crt" -subj "/CN=localhost" \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
    cat "$1/tls.crt" "$1/tls.key" >"$1/tls.pem"
}

start_tls_server() { # authgate|haproxy: sets TLS_PID, TLS_PORT, TLS_SIG
    local who="$1" port name
    port="$(free_port)"
    name="tls-$who-$LAYOUT"
    if [[ $who == authgate ]]; then
        TLS_SIG=INT
        launch "$name" INT "${PIN_SERVER[@]}" env RUST_LOG=warn "$AUTHGATE" \
            --config "$WORK/authgate-hs256.toml" --listen "127.0.0.1:$port" \
            --admin-listen "127.0.0.1:$(free_port)" --upstream "http://127.0.0.1:$UPORT" \
            --tls-cert-file "$WORK/tls.crt" --tls-key-file "$WORK/tls.key"
    else
        render "$BENCH_DIR/templates/haproxy-jwt.cfg" "$WORK/$name.cfg" "THREADS=$THREADS" \
            "PORT=$port" "UPORT=$UPORT" "ALG=HS256" "KEY=$BETTER_AUTH_SECRET" "LEEWAY=30" \
            "LOG=no log" "BIND=ssl crt $WORK/tls.pem alpn h2,http/1.1"
        TLS_SIG=TERM
        launch "$name" TERM "${PIN_SERVER[@]}" haproxy -f "$WORK/$name.cfg" -db
    fi
    TLS_PID=$LAUNCHED
    TLS_PORT=$port
    local deadline=$((SECONDS + 10))
    until curl -sk -o /dev/null --max-time 1 "https://127.0.0.1:$port/"; do
        alive "$TLS_PID" && ((SECONDS < deadline)) || return 1
        sleep 0.05
    done
}

tls_preflight() { # → prints what is wrong
    local url="https://127.0.0.1:$TLS_PORT/api/bench" auth got
    auth="Authorization: Bearer $(token_of hs256)"
    got="$(curl -sk -o /dev/null -w '%{http_code} %{http_version}' --http1.1 -H "$auth" "$url")"
    [[ $got == "200 1.1" ]] || { echo "HTTPS with the token: $got"; return 1; }
    got="$(curl -sk -o /dev/null -w '%{http_code} %{http_version}' --http2 -H "$auth" "$url")"
    [[ $got == "200 2" ]] || { echo "h2 with the token: $got"; return 1; }
    got="$(curl -sk -o /dev/null -w '%{http_code}' "$url")"
    [[ $got == 401 ]] || { echo "no token: $got"; return 1; }
}

s_time_rate() { # -new|-reuse → connections per second (wall clock)
    local out
    out="$(timeout $((DURATION + 30)) "${PIN_LOAD[@]}" openssl s_time -connect "127.0.0.1:$TLS_PORT" \
        "$1" -time "$DURATION" -www /api/bench 2>&1)" || true
    # "N connections in T real seconds, …": T is whole seconds (time(NULL)), so the
    # rate is N over the -time asked for, which s_time runs for.
    awk -v d="$DURATION" '/connections in [0-9.]+ real seconds/ { n = $1 } END { if (n > 0) printf "%.0f", n / d }' <<<"$out"
}

h2load_rate() {
    local out
    out="$(timeout $((DURATION + 30)) "${PIN_LOAD[@]}" h2load -c 16 -m 10 -t 1 -D "$DURATION" \
        -H "authorization: Bearer $(token_of hs256)" "https://127.0.0.1:$TLS_PORT/api/bench" 2>&1)" || true
    # "requests: N total, N started, N done, S succeeded, F failed, ..." and
    # "finished in 3.00s, 12345.67 req/s, ..."
    if ! grep -q ' 0 failed, 0 errored' <<<"$out"; then
        grep -m1 '^requests:' <<<"$out" >&2
    fi
    awk '/^finished in/ { gsub(",", "", $4); printf "%.0f", $4 }' <<<"$out"
}

measure_tls_round() { # who round: one line per kind into $TLS_RAW
    local who="$1" round="$2" why json rate
    if ! start_tls_server "$who"; then
        log "TLS rows: $who did not start (see logs/tls-$who-$LAYOUT.log)"
        stop_pid "$TLS_PID" "$TLS_SIG"; forget_pid "$TLS_PID"
        return 0
    fi
    if ! why="$(tls_preflight)"; then
        log "TLS rows: $who pre-flight failed: $why"
        stop_pid "$TLS_PID" "$TLS_SIG"; forget_pid "$TLS_PID"
        return 0
    fi
    SERVER_URL="https://127.0.0.1:$TLS_PORT/api/bench"
    AUTH_ARGS=(-H "Authorization: Bearer $(token_of hs256)")
    TOKEN_FILE=""
    if ((WARMUP > 0)); then
        run_wrk "$WARMUP" "$CONNECTIONS" "$WRK_THREADS" >/dev/null || true
    fi
    if json="$(run_wrk "$DURATION" "$CONNECTIONS" "$WRK_THREADS")" && [[ -n $json ]]; then
        rate="$(awk -v r="$(json_field "$json" requests)" -v d="$(json_field "$json" duration_us)" \
            'BEGIN { printf "%.0f", r / (d / 1e6) }')"
        echo "$who https-keepalive $round $rate" >>"$TLS_RAW"
    fi
    echo "$who handshake-full $round $(s_time_rate -new)" >>"$TLS_RAW"
    echo "$who handshake-resumed $round $(s_time_rate -reuse)" >>"$TLS_RAW"
    if command -v h2load >/dev/null; then
        echo "$who h2-multiplexed $round $(h2load_rate)" >>"$TLS_RAW"
    fi
    stop_pid "$TLS_PID" "$TLS_SIG"
    forget_pid "$TLS_PID"
    log "$(printf 'tls  %-8s round %d  %s' "$who" "$round" \
        "$(awk -v w="$who" -v r="$round" '$1 == w && $3 == r { printf "%s %s/s  ", $2, $4 }' "$TLS_RAW")")"
}

tls_median() { # who kind → median over rounds, or empty
    awk -v w="$1" -v k="$2" '$1 == w && $2 == k && $4 != "" { print $4 }' "$TLS_RAW" | sort -n |
        awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

tls_table() { # → markdown
    local k a h caption
    echo "### TLS and HTTP/2 ($LAYOUT layout, medians of $ROUNDS round(s))"
    echo
    echo "| measurement | authgate | HAProxy | authgate / HAProxy |"
    echo "|---|---:|---:|---:|"
    for k in $TLS_KINDS; do
        case $k in
            https-keepalive) caption="HTTPS HS256, $CONNECTIONS kept-alive connections (wrk), req/s" ;;
            handshake-full) caption="new TLS connections/s, full handshake (openssl s_time -new)" ;;
            handshake-resumed) caption="new TLS connections/s, resumed session (openssl s_time -reuse)" ;;
            h2-multiplexed) caption="h2 HS256, 16 connections × 10 streams (h2load), req/s" ;;
        esac
        a="$(tls_median authgate "$k")"
        h="$(tls_median haproxy "$k")"
        echo "| $caption | ${a:--} | ${h:--} | $(awk -v a="$a" -v h="$h" 'BEGIN { if (a != "" && h > 0) printf "%.2f", a / h; else print "-" }') |"
    done
    echo
    echo "Both servers use one ECDSA P-256 certificate, TLS 1.3 as negotiated by the client, and the"
    echo "layout's threads; authgate's access log is off (as in haproxy-hs256). s_time is one client"
    echo "thread doing one GET per connection of a path both answer 401 themselves."
}

measure_tls_rows() {
    TLS_RAW="$WORK/tls.txt"
    : >"$TLS_RAW"
    make_tls_cert "$WORK"
    set_layout "${LAYOUT_LIST[0]}"
    log "TLS and HTTP/2 rows: authgate and HAProxy, $ROUNDS round(s), $LAYOUT layout"
    local round who
    for ((round = 1; round <= ROUNDS; round++)); do
        for who in authgate haproxy; do
            measure_tls_round "$who" "$round"
        done
    done
    tls_table >"$WORK/tls-table.md"
}
