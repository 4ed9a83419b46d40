#!/usr/bin/env bash
# Offline checks of deploy/ (no container is started; deploy/smoke.sh runs them):
#   - hadolint on deploy/Dockerfile;
#   - kubernetes-validate --strict of every deploy/k8s resource for several Kubernetes
#     versions (1.30: the oldest with both native sidecars and the preStop sleep action);
#   - the Pod Security Standards "restricted" profile (scripts/ci/pss-restricted.py);
#   - the ConfigMap's config.toml is deploy/authgate.toml, byte for byte;
#   - the Redis option: deploy/k8s-redis rendered by `kubectl kustomize` and validated
#     like deploy/k8s; deploy/docker-compose.redis.yml on top of docker-compose.yml;
#   - podman-compose config of deploy/docker-compose.yml.
# Each validator is also fed a broken input and must reject it, so a validator that
# passes everything (or a wrapper that exits 0 on errors) fails this script.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
scripts/ensure-podman.sh
# shellcheck source=/dev/null
source <(scripts/ensure-podman.sh --env)
export PODMAN_COMPOSE_WARNING_LOGS=false

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
ok() { echo "deploy-validate: ok: $*"; passed=$((passed + 1)); }
bad() { echo "deploy-validate: FAILED: $*" >&2; failed=$((failed + 1)); }
# must_reject WHAT CMD...: CMD has to fail (it is given a broken input).
must_reject() {
  local what=$1; shift
  if "$@" >"$tmp/out" 2>&1; then bad "$what was accepted"; cat "$tmp/out" >&2
  else ok "$what is rejected"; fi
}
# must_pass WHAT CMD...
must_pass() {
  local what=$1; shift
  if "$@" >"$tmp/out" 2>&1; then ok "$what"
  else bad "$what"; cat "$tmp/out" >&2; fi
}

# --- Dockerfile ---
must_pass "hadolint deploy/Dockerfile" hadolint deploy/Dockerfile
printf 'FROM debian:latest\nRUN apt-get update && apt-get install -y curl\n' >"$tmp/Dockerfile"
must_reject "hadolint: an unpinned Dockerfile" hadolint "$tmp/Dockerfile"

# --- Kubernetes manifests ---
mapfile -t resources < <(python3 -c '
import sys, yaml
for r in yaml.safe_load(open("deploy/k8s/kustomization.yaml"))["resources"]:
    print("deploy/k8s/" + r)')
[ ${#resources[@]} -ge 5 ] || bad "deploy/k8s/kustomization.yaml lists ${#resources[@]} resources"
for f in deploy/k8s/*.yaml; do
  case " ${resources[*]} deploy/k8s/kustomization.yaml " in
    *" $f "*) ;;
    *) bad "$f is not listed in deploy/k8s/kustomization.yaml" ;;
  esac
done
python3 - "$tmp/broken.yaml" <<'EOF'
import sys, yaml
d = yaml.safe_load(open("deploy/k8s/deployment.yaml"))
d["spec"]["template"]["spec"]["containers"][0]["imagePullPolice"] = "IfNotPresent"  # typo
yaml.safe_dump(d, open(sys.argv[1], "w"))
EOF
for version in 1.30.0 1.33.0 1.37.0; do
  must_pass "kubernetes-validate --strict $version" \
    kubernetes-validate --strict --quiet -k "$version" "${resources[@]}"
  must_reject "kubernetes-validate --strict $version: an unknown field" \
    kubernetes-validate --strict --quiet -k "$version" "$tmp/broken.yaml"
done

must_pass "Pod Security 'restricted'" python3 scripts/ci/pss-restricted.py "${resources[@]}"
python3 - "$tmp" <<'EOF'
import sys, yaml
tmp = sys.argv[1]
base = yaml.safe_load(open("deploy/k8s/deployment.yaml"))
def variant(name, change):
    d = yaml.safe_load(yaml.safe_dump(base))
    change(d["spec"]["template"]["spec"])
    yaml.safe_dump(d, open(f"{tmp}/pss-{name}.yaml", "w"))
variant("no-seccomp", lambda s: s["securityContext"].pop("seccompProfile"))
variant("escalation", lambda s: s["containers"][0]["securityContext"].pop("allowPrivilegeEscalation"))
variant("caps", lambda s: s["initContainers"][0]["securityContext"].update(capabilities={"add": ["NET_ADMIN"]}))
variant("root", lambda s: s["securityContext"].update(runAsNonRoot=False))
variant("hostpath", lambda s: s["volumes"].append({"name": "h", "hostPath": {"path": "/"}}))
variant("token", lambda s: s.pop("automountServiceAccountToken"))
EOF
for v in no-seccomp escalation caps root hostpath token; do
  must_reject "Pod Security 'restricted': $v" python3 scripts/ci/pss-restricted.py "$tmp/pss-$v.yaml"
done

# The Redis option, rendered as `kubectl apply -k deploy/k8s-redis` would apply it.
if kubectl kustomize deploy/k8s-redis >"$tmp/k8s-redis.yaml" 2>"$tmp/out"; then
  ok "kubectl kustomize deploy/k8s-redis"
  must_pass "deploy/k8s-redis: split, and Redis URL files for both containers" python3 - "$tmp" <<'EOF'
import sys, yaml
tmp = sys.argv[1]
docs = [d for d in yaml.safe_load_all(open(f"{tmp}/k8s-redis.yaml")) if d]
for i, d in enumerate(docs):
    yaml.safe_dump(d, open(f"{tmp}/k8s-redis-{i:02d}-{d['kind'].lower()}.yaml", "w"))
tasks = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "tasks")
spec = tasks["spec"]["template"]["spec"]
env = {c["name"]: {e["name"] for e in c.get("env", [])}
       for c in spec["initContainers"] + spec["containers"]}
assert "AUTHGATE_REDIS_URL_FILE" in env["authgate"], env
assert "REDIS_URL_FILE" in env["upstream-api"], env
EOF
  mapfile -t redis_resources < <(ls "$tmp"/k8s-redis-*.yaml)
  for version in 1.30.0 1.37.0; do
    must_pass "kubernetes-validate --strict $version: deploy/k8s-redis" \
      kubernetes-validate --strict --quiet -k "$version" "${redis_resources[@]}"
  done
  must_pass "Pod Security 'restricted': deploy/k8s-redis" \
    python3 scripts/ci/pss-restricted.py "${redis_resources[@]}"
else
  bad "kubectl kustomize deploy/k8s-redis"; cat "$tmp/out" >&2
fi

if python3 -c '
import sys, yaml
cm = yaml.safe_load(open("deploy/k8s/configmap.yaml"))["data"]["config.toml"]
sys.exit(cm != open("deploy/authgate.toml").read())'; then
  ok "deploy/k8s/configmap.yaml holds deploy/authgate.toml"
else
  bad "deploy/k8s/configmap.yaml differs from deploy/authgate.toml (copy it over, indented by 4)"
fi

# --- docker-compose.yml ---
export BETTER_AUTH_URL=http://better-auth:3000 AUTHGATE_ASSERTION_SECRET=ci-placeholder
must_pass "podman-compose config" podman-compose -f deploy/docker-compose.yml config
must_pass "podman-compose config: with deploy/docker-compose.redis.yml" \
  podman-compose -f deploy/docker-compose.yml -f deploy/docker-compose.redis.yml config
sed 's/^services:/services:\n  broken: [/' deploy/docker-compose.yml >"$tmp/broken-compose.yml"
must_reject "podman-compose config: a YAML error" podman-compose -f "$tmp/broken-compose.yml" config
must_reject "podman-compose config: BETTER_AUTH_URL unset" \
  env -u BETTER_AUTH_URL podman-compose -f deploy/docker-compose.yml config
# Structure podman-compose does not check, but the deploy depends on.
must_pass "compose: only authgate is published; read_only and cap_drop on both" python3 - <<'EOF'
import yaml
c = yaml.safe_load(open("deploy/docker-compose.yml"))
s = c["services"]
assert [n for n, v in s.items() if v.get("ports")] == ["authgate"], "published ports"
for name, svc in s.items():
    assert svc.get("read_only") is True, f"{name}: read_only"
    assert svc.get("cap_drop") == ["ALL"], f"{name}: cap_drop"
    assert "healthcheck" in svc or name == "upstream-api", f"{name}: healthcheck"
assert "authgate_assertion_secret" in s["authgate"]["secrets"]
r = yaml.safe_load(open("deploy/docker-compose.redis.yml"))["services"]
assert not r["redis"].get("ports"), "Redis is not published"
assert r["redis"].get("read_only") is True and r["redis"].get("cap_drop") == ["ALL"], "redis"
assert "healthcheck" in r["redis"], "redis: healthcheck"
for name in ("authgate", "upstream-api"):
    assert "redis_url" in r[name]["secrets"], f"{name}: the Redis URL from a secret file"
    assert not any(k.endswith("REDIS_URL") for k in r[name]["environment"]), f"{name}: URL in env"
EOF

echo "deploy-validate: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
