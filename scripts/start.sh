#!/usr/bin/env bash
# Try ai-quota on a fresh machine: installs what the local gateway needs (redis-server with apt-get
# when missing, the npm dependencies), then runs it: `bash scripts/start.sh [-- gateway options]`.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v redis-server >/dev/null 2>&1; then
  echo "installing redis-server (the gateway starts its own on a free port)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi
[ -d node_modules ] || npm ci --no-audit --no-fund
exec npm start "$@"
