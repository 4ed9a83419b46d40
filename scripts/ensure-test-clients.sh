#!/usr/bin/env bash
# The Python gRPC and WebSocket peers of tests/tests/grpc.rs and websocket.rs:
# a venv in target/test-clients with tests/clients/requirements.txt (pinned).
# Idempotent and quick: a stamp holding the requirements' hash skips pip when
# nothing changed. Needs python3 with venv (scripts/ensure-deps.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/test-clients
requirements=tests/clients/requirements.txt
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$requirements" | cut -d' ' -f1)

if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
echo "ensure-test-clients: installing $requirements into $venv" >&2
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: -r "$requirements"
echo "$want" > "$stamp"
