#!/usr/bin/env bash
# Installs what building and testing authgate needs and a fresh machine may lack:
# cmake (Pingora's zlib-ng build), a C compiler, Node.js + npm (the Better Auth test
# issuer), Prometheus (scrapes the admin port in a test), redis-server (the tests start
# their own on a free port), cargo-nextest; for the TLS, HTTP/2, gRPC and WebSocket
# tests: the openssl CLI (a test CA), curl with HTTP/2, Python 3 with venv (the gRPC
# and WebSocket peers, pinned in tests/clients/requirements.txt, installed by
# scripts/ensure-test-clients.sh) and nghttp2-client (h2load, for bench/run.sh).
# Idempotent: does nothing when everything is there. Installed packages' services are
# not started (a policy-rc.d refuses them while apt runs): the tests start what they need.
set -euo pipefail

need_apt=()
command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
command -v prometheus >/dev/null 2>&1 || need_apt+=(prometheus)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v h2load >/dev/null 2>&1 || need_apt+=(nghttp2-client)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need_apt+=(python3-venv)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "ensure-deps: installing ${need_apt[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "ensure-deps: installing cargo-nextest" >&2
  cargo install --locked cargo-nextest
fi

scripts/ensure-test-clients.sh
