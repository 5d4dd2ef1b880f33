#!/usr/bin/env bash
# Try ai-quota on a fresh machine: installs what the local gateway needs (redis-server with apt-get
# when missing, the npm dependencies), builds the plugin when a source changed, then runs the
# gateway: `bash scripts/start.sh [gateway options]` (`--help` lists them; a leading `--` is allowed).
#
# The gateway replaces this shell (exec node, no npm or tsx process in between), so the pid you
# started is the gateway: SIGINT/SIGTERM/SIGHUP to it, or Ctrl-C, stop it and its redis-server
# (which also gets SIGTERM from the kernel if the gateway is killed outright: host/redis-server.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${1-}" = "--" ] && shift

# While setting up, a signal stops the step under way (a background job, so the trap runs at once)
# and this script, instead of leaving an apt-get, npm or compiler behind.
step_pid=""
stop_setup() {
  trap - INT TERM HUP
  [ -n "$step_pid" ] && kill -TERM "$step_pid" 2>/dev/null
  [ -n "$step_pid" ] && wait "$step_pid" 2>/dev/null
  exit "$1"
}
trap 'stop_setup 130' INT
trap 'stop_setup 143' TERM
trap 'stop_setup 129' HUP
step() {
  "$@" &
  step_pid=$!
  local rc=0
  wait "$step_pid" || rc=$?
  step_pid=""
  return "$rc"
}

if ! command -v redis-server >/dev/null 2>&1; then
  echo "installing redis-server (the gateway starts its own on a free port)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  step $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive step $SUDO apt-get install -y -qq redis-server >/dev/null
fi
[ -d node_modules ] || step npm ci --no-audit --no-fund
step node scripts/build.mjs --if-needed
trap - INT TERM HUP
exec node --import tsx gateway/main.ts "$@"
