#!/usr/bin/env bash
# deploy/smoke.sh: builds the images from deploy/Dockerfile and runs, for real on this
# machine, the compose stack (deploy/docker-compose.yml) and the Kubernetes pod
# (deploy/k8s/, with `podman kube play`), and the compose stack with the Redis option
# (deploy/docker-compose.redis.yml). Through each it drives 401 (no token), 201 and
# 200 (a Better Auth token), 403 (another user's path), checks readiness, stops the
# containers with SIGTERM and expects exit code 0; with Redis it also revokes a user with
# `authgate revoke` in the authgate container and checks what reached Redis. Exits non-zero on the first failure and
# removes everything it started (trap), also on failure or Ctrl-C.
#
# How it runs here (no Docker engine, no registry, no image pulls; see
# scripts/ensure-podman.sh for podman's settings):
# - The Rust build stages of the Dockerfile need the rust:1.95-bookworm image, which cannot
#   be pulled here, so the binaries are built on the host (`cargo build --release`) and put
#   into a local image, from which the Dockerfile's `*-prebuilt` targets copy them: the
#   same runtime stages as the `authgate` / `upstream-api` targets, another binary source.
#   (deploy/smoke/full-build.sh builds the user targets, Rust stages included, by hand.)
# - The runtime base (distroless cc nonroot) cannot be pulled either: a stand-in with the
#   same contents that matter (glibc and libgcc_s as the binaries link them, CA
#   certificates, /etc/passwd with nonroot = 65532, no shell) is made from this machine's
#   files. The runtime stages of the Dockerfile (labels, USER, /data owner) run as written.
#   Likewise Redis: a stand-in image with this machine's redis-server and redis-cli.
# - Containers use the host network (127.0.0.1, free ports picked at start): compose gets
#   an override file, the pod a converted manifest (deploy/smoke/podman-kube.py says what
#   it changes and why).
# - Tokens come from the real Better Auth test issuer (tests/issuer, better-auth with the
#   jwt plugin) on the host: authgate fetches its JWKS, as the documented deploy does.
#
# Usage: deploy/smoke.sh
#   SMOKE_PROFILE=debug   use the debug binaries (CI: scripts/test.sh has just built them,
#                         which saves the ~7 min release build; the images are then larger)
#   SMOKE_SKIP_CARGO=1    use the binaries as they are in target/<profile>
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
start=$SECONDS
log() { printf 'smoke: %s\n' "$*" >&2; }
fail() { printf 'smoke: FAIL: %s\n' "$*" >&2; exit 1; }

scripts/ensure-deps.sh
scripts/ensure-podman.sh
# shellcheck source=/dev/null
source <(scripts/ensure-podman.sh --env)
export PODMAN_COMPOSE_WARNING_LOGS=false

profile="${SMOKE_PROFILE:-release}"
case "$profile" in
  release) cargo_flags=(--release) ;;
  debug) cargo_flags=() ;;
  *) fail "SMOKE_PROFILE must be release or debug, not '$profile'" ;;
esac
bin="${CARGO_TARGET_DIR:-$root/target}/$profile"
if [ -z "${SMOKE_SKIP_CARGO:-}" ]; then
  log "cargo build ${cargo_flags[*]} -p authgate -p upstream-api"
  cargo build "${cargo_flags[@]}" --locked -p authgate -p upstream-api
fi
[ -x "$bin/authgate" ] && [ -x "$bin/upstream-api" ] || fail "no $profile binaries in $bin"
if [ ! -f tests/issuer/node_modules/better-auth/package.json ]; then
  (cd tests/issuer && npm ci --no-audit --no-fund --loglevel=error)
fi
t_build_bins=$((SECONDS - start))


work="$(mktemp -d /tmp/authgate-smoke.XXXXXX)"
project="authgate-smoke"
compose=(podman-compose --project-name "$project" -f deploy/docker-compose.yml -f "$work/compose.smoke.yml")
compose_redis=(podman-compose --project-name "$project-redis" -f deploy/docker-compose.yml
  -f deploy/docker-compose.redis.yml -f "$work/compose.redis.smoke.yml")
issuer_pid=""
cleanup() {
  local rc=$?
  set +e
  if [ -f "$work/compose.smoke.yml" ]; then
    "${compose[@]}" down --volumes --timeout 5 >/dev/null 2>&1
  fi
  if [ -f "$work/compose.redis.smoke.yml" ]; then
    "${compose_redis[@]}" down --volumes --timeout 5 >/dev/null 2>&1
  fi
  podman pod rm --force --time 5 tasks-pod-0 >/dev/null 2>&1
  # kube play keeps the ConfigMap and the Secret as volumes.
  podman volume rm --force authgate-config authgate-secrets >/dev/null 2>&1
  podman secret rm authgate-secrets authgate-secrets-env >/dev/null 2>&1
  # The images the last run tagged become dangling (the storage is this project's own).
  podman image prune -f >/dev/null 2>&1
  [ -n "$issuer_pid" ] && kill "$issuer_pid" 2>/dev/null && wait "$issuer_pid" 2>/dev/null
  if [ $rc -ne 0 ]; then
    podman logs "${project}-redis_redis_1" >"$work/compose-redis-redis.log" 2>&1
    for f in "$work"/*.log; do
      [ -s "$f" ] && { echo "--- $f (last 30 lines)"; tail -n 30 "$f"; } >&2
    done
  fi
  rm -rf "$work"
  if [ $rc -eq 0 ]; then log "PASS in $((SECONDS - start)) s"; else log "FAILED (exit $rc)"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Polls URL until it answers EXPECTED (default 200), for at most SECS seconds.
wait_http() {
  local url=$1 secs=$2 expected=${3:-200} code=""
  local deadline=$((SECONDS + secs))
  while [ $SECONDS -lt $deadline ]; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)
    [ "$code" = "$expected" ] && return 0
    sleep 0.2
  done
  fail "$url answered ${code:-nothing}, not $expected, within $secs s"
}

# --- images -------------------------------------------------------------------------
log "building the runtime base stand-in and the images (podman build --pull=never)"
mkdir -p "$work/base/rootfs/etc/ssl/certs" "$work/base/rootfs/tmp" \
  "$work/base/rootfs/home/nonroot" "$work/bins/data"
for lib in $(ldd "$bin/authgate" "$bin/upstream-api" | grep -o '/[^ ]*\.so[^ ]*' | sort -u); do
  cp -L --parents "$lib" "$work/base/rootfs/"
done
cp -L /etc/ssl/certs/ca-certificates.crt "$work/base/rootfs/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' \
  >"$work/base/rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$work/base/rootfs/etc/group"
chmod 1777 "$work/base/rootfs/tmp"
printf 'FROM scratch\nCOPY rootfs/ /\nCOPY --chown=65532:65532 rootfs/home/nonroot /home/nonroot\n' \
  >"$work/base/Containerfile"
podman build -q --pull=never -t localhost/authgate-smoke/cc-nonroot:latest "$work/base" >/dev/null
# Redis: this machine's redis-server (a multi-call binary: redis-check-rdb) and redis-cli,
# their libraries, the redis user as uid 999 (the official image's), /data its own.
mkdir -p "$work/redis/rootfs/usr/local/bin" "$work/redis/rootfs/etc" "$work/redis/rootfs/data"
for lib in $(ldd /usr/bin/redis-check-rdb /usr/bin/redis-cli | grep -o '/[^ ]*\.so[^ ]*' | sort -u); do
  cp -L --parents "$lib" "$work/redis/rootfs/"
done
cp -L /usr/bin/redis-check-rdb "$work/redis/rootfs/usr/local/bin/redis-server"
cp -L /usr/bin/redis-cli "$work/redis/rootfs/usr/local/bin/redis-cli"
printf 'root:x:0:0:root:/root:/sbin/nologin\nredis:x:999:999:redis:/data:/sbin/nologin\n' \
  >"$work/redis/rootfs/etc/passwd"
printf 'root:x:0:\nredis:x:999:\n' >"$work/redis/rootfs/etc/group"
printf 'FROM scratch\nCOPY rootfs/ /\nCOPY --chown=999:999 rootfs/data /data\nENV PATH=/usr/local/bin\nWORKDIR /data\n' \
  >"$work/redis/Containerfile"
podman build -q --pull=never -t localhost/authgate-smoke/redis:latest "$work/redis" >/dev/null

cp "$bin/authgate" "$bin/upstream-api" "$work/bins/"
printf 'FROM scratch\nCOPY authgate upstream-api /out/\nCOPY data /out/data\n' >"$work/bins/Containerfile"
podman build -q --pull=never -t localhost/authgate-smoke/bins:latest "$work/bins" >/dev/null

revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
for target in authgate upstream-api; do
  # --no-cache: buildah 1.28 reuses a cached LABEL step although REVISION changed.
  podman build -q --pull=never --no-cache -f deploy/Dockerfile --target "$target-prebuilt" \
    --build-arg RUNTIME_IMAGE=localhost/authgate-smoke/cc-nonroot:latest \
    --build-arg PREBUILT=localhost/authgate-smoke/bins:latest \
    --build-arg REVISION="$revision" \
    -t "localhost/$target:0.1.0" . >/dev/null
  size=$(podman image inspect --format '{{.Size}}' "localhost/$target:0.1.0")
  log "image $target:0.1.0: $((size / 1000000)) MB ($size bytes)"
done
for target in authgate upstream-api; do
  user=$(podman image inspect --format '{{.Config.User}}' "localhost/$target:0.1.0")
  [ "$user" = "65532:65532" ] || fail "$target image runs as '$user', not 65532:65532"
  label=$(podman image inspect --format '{{index .Labels "org.opencontainers.image.revision"}}' \
    "localhost/$target:0.1.0")
  [ "$label" = "$revision" ] || fail "$target image: OCI revision label is '$label'"
done
# SQLite must be able to create its file in /data: owned by the runtime user.
mnt=$(podman image mount localhost/upstream-api:0.1.0)
owner=$(stat -c %u:%g "$mnt/data")
shell=$(ls "$mnt/bin/sh" "$mnt/usr/bin/sh" 2>/dev/null || true)
podman image unmount localhost/upstream-api:0.1.0 >/dev/null
[ "$owner" = "65532:65532" ] || fail "/data in upstream-api is owned by $owner, not 65532:65532"
[ -z "$shell" ] || fail "the runtime image has a shell"
t_images=$((SECONDS - start))

# --- Better Auth (the JWKS and the tokens) ------------------------------------------
issuer_port=$(free_port)
issuer="http://127.0.0.1:$issuer_port"
(cd tests/issuer && BETTER_AUTH_SECRET="$(openssl rand -hex 32)" ISSUER_PORT=$issuer_port \
  JWT_ALG=EdDSA exec node server.mjs >"$work/issuer.out" 2>"$work/issuer.log") &
issuer_pid=$!
deadline=$((SECONDS + 60))
until grep -q '^ISSUER_READY ' "$work/issuer.out" 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || fail "the Better Auth issuer did not start within 60 s"
  kill -0 "$issuer_pid" 2>/dev/null || fail "the Better Auth issuer exited"
  sleep 0.2
done

# Signs a user up and prints "<user id> <access JWT>", as a browser app would get them.
mint() {
  local email=$1 jar="$work/cookies-$1"
  curl -sf -c "$jar" -H "Origin: $issuer" -H 'Content-Type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"correct-horse-battery\",\"name\":\"Smoke\"}" \
    "$issuer/api/auth/sign-up/email" >"$work/signup.json" || fail "sign-up of $email failed"
  printf '%s %s\n' "$(jq -r .user.id "$work/signup.json")" \
    "$(curl -sf -b "$jar" "$issuer/api/auth/token" | jq -r .token)"
}
read -r alice alice_token < <(mint alice@example.com)
read -r bob bob_token < <(mint bob@example.com)
for t in "$alice_token" "$bob_token"; do
  [ -n "$t" ] && [ "$t" != null ] || fail "no token from Better Auth"
done

mkdir -p "$work/secrets"
openssl rand -hex 32 >"$work/secrets/authgate_assertion_secret"
assertion_secret="$(cat "$work/secrets/authgate_assertion_secret")"

# Drives the stack behind BASE: 401, 201, 200, 403, and the public route.
expect() {
  local want=$1 what=$2; shift 2
  local code
  code=$(curl -s -o "$work/body" -w '%{http_code}' --max-time 10 "$@")
  [ "$code" = "$want" ] || fail "$what: HTTP $code, expected $want: $(head -c 300 "$work/body")"
  log "  $what: $code"
}
drive() {
  local base=$1
  expect 401 "no token" "$base/api/$alice/tasks"
  grep -qi '^www-authenticate: bearer' <(curl -s -D - -o /dev/null "$base/api/$alice/tasks") \
    || fail "401 without WWW-Authenticate"
  expect 201 "create with alice's token" -X POST -H "Authorization: Bearer $alice_token" \
    -H 'Content-Type: application/json' -d '{"title":"smoke task"}' "$base/api/$alice/tasks"
  expect 200 "list with alice's token" -H "Authorization: Bearer $alice_token" "$base/api/$alice/tasks"
  grep -q 'smoke task' "$work/body" || fail "the created task is not listed: $(head -c 300 "$work/body")"
  expect 403 "bob's path with alice's token" -H "Authorization: Bearer $alice_token" "$base/api/$bob/tasks"
  expect 200 "bob's own path" -H "Authorization: Bearer $bob_token" "$base/api/$bob/tasks"
  expect 401 "a forged token" -H "Authorization: Bearer ${alice_token%?}x" "$base/api/$alice/tasks"
  expect 200 "public /openapi.json" "$base/openapi.json"
}

# Sends SIGTERM (the images' STOPSIGNAL) with `podman stop`, which also keeps the
# restart policy from starting it again, and requires exit code 0 before the timeout.
stop_clean() {
  local ctr=$1 t0=$SECONDS code
  # (podman complains on stderr that it cannot remove the healthcheck's systemd timer.)
  podman stop --time 40 "$ctr" >/dev/null 2>>"$work/podman-stop.err"
  code=$(podman inspect --format '{{.State.ExitCode}}' "$ctr")
  [ "$code" = 0 ] || fail "$ctr exited with $code after SIGTERM"
  log "  SIGTERM: $ctr stopped cleanly (exit 0) in $((SECONDS - t0)) s"
}

# authgate's admin listener: ready (JWKS loaded, upstream /healthz answering), alive,
# metrics; the proxy port leaves /healthz to the upstream.
ready_checks() {
  local admin=$1
  wait_http "http://$admin/readyz" 60
  wait_http "http://$admin/healthz" 5
  curl -sf -o "$work/metrics" "http://$admin/metrics" && grep -q '^# ' "$work/metrics" \
    || fail "no Prometheus metrics on $admin"
  log "  ready"
}

# The authgate and upstream-api part of a compose override: the host network, the free
# loopback ports $1 (proxy), $2 (admin), $3 (upstream), healthchecks on them. With $4 =
# redis, upstream-api's depends_on (which only the Redis override gives it) is reset too:
# podman-compose 1.6 crashes on a `!reset` with nothing to reset.
host_services() {
  local upstream_deps=""
  [ "${4:-}" = redis ] && upstream_deps="    depends_on: !reset {}"

  cat <<EOF
  authgate:
    network_mode: host
    ports: !reset []
    environment:
      AUTHGATE_LISTEN: 127.0.0.1:$1
      AUTHGATE_ADMIN_LISTEN: 127.0.0.1:$2
      AUTHGATE_UPSTREAM: http://127.0.0.1:$3
    healthcheck:
      # !override: compose merges lists by appending.
      test: !override ["CMD", "/usr/local/bin/authgate", "probe", "http://127.0.0.1:$2/readyz"]
    # podman has no healthcheck timers here (no systemd), so "healthy" would never
    # come: no start-up ordering here (podman-compose 1.6 cannot override a mapping);
    # readiness below waits for all, and each healthcheck is run once by hand.
    depends_on: !reset {}
  upstream-api:
    network_mode: host
    expose: !reset []
    environment:
      UPSTREAM_API_LISTEN: 127.0.0.1:$3
    healthcheck:
      test: !override ["CMD", "/usr/local/bin/upstream-api", "probe", "http://127.0.0.1:$3/healthz"]
$upstream_deps
EOF
}

# --- docker-compose.yml -------------------------------------------------------------
t0=$SECONDS
log "compose: deploy/docker-compose.yml with podman-compose"
ag=$(free_port); adm=$(free_port); up=$(free_port)
{ echo "# Generated by deploy/smoke.sh: the host network and free loopback ports."
  echo "services:"; host_services "$ag" "$adm" "$up"; } >"$work/compose.smoke.yml"
export BETTER_AUTH_URL="$issuer" AUTHGATE_SECRETS_DIR="$work/secrets"
"${compose[@]}" config >"$work/compose-config.log" 2>&1 || fail "podman-compose config failed (its output is below)"
"${compose[@]}" up -d >"$work/compose-up.log" 2>&1 || fail "podman-compose up failed"
ready_checks "127.0.0.1:$adm"
# podman runs healthchecks from systemd timers, which this machine lacks: run it once.
if ! podman healthcheck run "${project}_authgate_1" >"$work/healthcheck.log" 2>&1; then
  podman inspect --format '{{json .State.Health}}' "${project}_authgate_1" >>"$work/healthcheck.log" 2>&1
  fail "authgate's compose healthcheck failed"
fi
log "  compose healthcheck (authgate probe): healthy"
if ! podman healthcheck run "${project}_upstream-api_1" >>"$work/healthcheck.log" 2>&1; then
  podman inspect --format '{{json .State.Health}}' "${project}_upstream-api_1" >>"$work/healthcheck.log" 2>&1
  fail "upstream-api's compose healthcheck failed"
fi
log "  compose healthcheck (upstream-api probe): healthy"
drive "http://127.0.0.1:$ag"
podman logs "${project}_authgate_1" >"$work/compose-authgate.log" 2>&1
grep -q "$alice_token" "$work/compose-authgate.log" && fail "authgate logged a token"
stop_clean "${project}_upstream-api_1"
stop_clean "${project}_authgate_1"
"${compose[@]}" down --volumes --timeout 5 >/dev/null 2>&1
t_compose=$((SECONDS - t0))

# --- docker-compose.yml + docker-compose.redis.yml -----------------------------------
t0=$SECONDS
log "compose with Redis: deploy/docker-compose.yml + deploy/docker-compose.redis.yml"
ag=$(free_port); adm=$(free_port); up=$(free_port); rp=$(free_port)
redis_password="$(openssl rand -hex 32)"
printf 'requirepass %s\n' "$redis_password" >"$work/secrets/redis.conf"
printf 'redis://:%s@127.0.0.1:%s\n' "$redis_password" "$rp" >"$work/secrets/redis_url"
chmod 644 "$work/secrets/redis.conf" "$work/secrets/redis_url"
{ cat <<EOF
# Generated by deploy/smoke.sh: the host network and free loopback ports, as above.
services:
  redis:
    image: localhost/authgate-smoke/redis:latest
    network_mode: host
    expose: !reset []
    # Nothing saved: in this sandbox podman gives /data (volume or tmpfs) no owner the
    # redis user can write as (Docker gives a new volume the image's), and Redis refuses
    # to stop when its final snapshot cannot be written.
    command: !override ["redis-server", "/run/secrets/redis_conf", "--port", "$rp", "--bind", "127.0.0.1", "--save", ""]
    volumes: !reset []
    healthcheck:
      test: !override ["CMD", "redis-cli", "-h", "127.0.0.1", "-p", "$rp", "ping"]
EOF
  host_services "$ag" "$adm" "$up" redis; } >"$work/compose.redis.smoke.yml"
"${compose_redis[@]}" up -d >"$work/compose-redis-up.log" 2>&1 || fail "podman-compose up (Redis) failed"
podman healthcheck run "${project}-redis_redis_1" >>"$work/healthcheck.log" 2>&1 \
  || fail "Redis's compose healthcheck failed"
ready_checks "127.0.0.1:$adm"
drive "http://127.0.0.1:$ag"
rcli() { redis-cli -h 127.0.0.1 -p "$rp" --no-auth-warning -a "$redis_password" "$@"; }
# (A bucket lives only until it is full again: 10 ms at 100/s. Count the calls instead.)
curl -sf "http://127.0.0.1:$adm/metrics" >"$work/metrics" || fail "no metrics"
grep -q '^authgate_redis_requests_total{op="rate_limit",result="ok"} [1-9]' "$work/metrics" \
  || fail "authgate counted no rate-limit call to Redis: $(grep redis "$work/metrics")"
[ -n "$(rcli --scan --pattern 'upstream-api:jti:*')" ] || fail "no replay record in Redis"
log "  rate limits counted in Redis; upstream-api's replay record in Redis"
podman exec "${project}-redis_authgate_1" /usr/local/bin/authgate revoke \
  --config /etc/authgate/config.toml --sub "$alice" >"$work/revoke.out" 2>&1 \
  || fail "authgate revoke in the container: $(cat "$work/revoke.out")"
sleep 1
expect 401 "alice's token after authgate revoke" -H "Authorization: Bearer $alice_token" \
  "http://127.0.0.1:$ag/api/$alice/tasks"
grep -q 'token revoked' "$work/body" || fail "not refused as revoked: $(head -c 300 "$work/body")"
expect 200 "bob's token" -H "Authorization: Bearer $bob_token" "http://127.0.0.1:$ag/api/$bob/tasks"
podman logs "${project}-redis_authgate_1" >"$work/compose-redis-authgate.log" 2>&1
grep -q "$redis_password" "$work/compose-redis-authgate.log" && fail "authgate logged the Redis password"
stop_clean "${project}-redis_upstream-api_1"
stop_clean "${project}-redis_authgate_1"
stop_clean "${project}-redis_redis_1"
"${compose_redis[@]}" down --volumes --timeout 5 >/dev/null 2>&1
t_compose_redis=$((SECONDS - t0))

# --- deploy/k8s (podman kube play) --------------------------------------------------
t0=$SECONDS
log "kubernetes: deploy/k8s with podman kube play"
ag=$(free_port); adm=$(free_port); up=$(free_port)
python3 - "$work" "$assertion_secret" <<'EOF'
import base64, json, sys
work, secret = sys.argv[1], sys.argv[2]
meta = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "authgate-secrets"}}
json.dump({**meta, "data": {"assertion-secret": secret}}, open(f"{work}/secret-volume.json", "w"))
json.dump({"assertion-secret": base64.b64encode(secret.encode()).decode()},
          open(f"{work}/secret-env.json", "w"))
EOF
podman secret rm authgate-secrets authgate-secrets-env >/dev/null 2>&1 || true
podman secret create authgate-secrets "$work/secret-volume.json" >/dev/null
podman secret create authgate-secrets-env "$work/secret-env.json" >/dev/null
overrides=(
  "authgate:AUTHGATE_LISTEN=127.0.0.1:$ag"
  "authgate:AUTHGATE_ADMIN_LISTEN=127.0.0.1:$adm"
  "authgate:AUTHGATE_UPSTREAM=http://127.0.0.1:$up"
  "authgate:AUTHGATE_JWKS_URL=$issuer/api/auth/jwks"
  "authgate:AUTHGATE_JWKS_ISSUER=$issuer"
  "authgate:AUTHGATE_JWKS_AUDIENCE=$issuer"
  "upstream-api:UPSTREAM_API_LISTEN=127.0.0.1:$up"
)
python3 deploy/smoke/podman-kube.py deploy/k8s "$work/kube.yaml" "${overrides[@]}"
podman kube play --network host "$work/kube.yaml" >"$work/kube-play.log" 2>&1 \
  || fail "podman kube play failed"
ready_checks "127.0.0.1:$adm"
drive "http://127.0.0.1:$ag"
podman logs tasks-pod-0-authgate >"$work/kube-authgate.log" 2>&1
grep -q "$alice_token" "$work/kube-authgate.log" && fail "authgate logged a token"
# The order Kubernetes uses for a native sidecar: the app first, authgate last.
stop_clean tasks-pod-0-upstream-api
stop_clean tasks-pod-0-authgate
podman pod rm --force --time 5 tasks-pod-0 >/dev/null
podman volume rm --force authgate-config authgate-secrets >/dev/null
t_kube=$((SECONDS - t0))

log "timings: binaries ${t_build_bins} s, images $((t_images - t_build_bins)) s, compose ${t_compose} s, compose with Redis ${t_compose_redis} s, kubernetes ${t_kube} s"
