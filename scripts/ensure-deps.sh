#!/usr/bin/env bash
# Installs what building and testing authgate needs and a fresh machine may lack:
# cmake (Pingora's zlib-ng build), a C compiler, Node.js + npm (the Better Auth test
# issuer), Prometheus (scrapes the admin port in a test), redis-server (the tests start
# their own on a free port; openssl makes the certificates of the TLS one), cargo-nextest.
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
