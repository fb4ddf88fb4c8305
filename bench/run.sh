#!/usr/bin/env bash
# One entry point for the benchmarks: installs the peers' servers from Debian
# if missing (nats-server, rabbitmq-server; their client libraries come with
# ./lantoa.sh deps), builds, and runs lantoa-bench, which starts every server
# itself on 127.0.0.1 with its data in a temporary folder and stops it by PID.
#
#   bench/run.sh [SCENARIO] [lantoa-bench options]
#     SCENARIO: all (default), ingest, fanout, latency, compare
#   e.g. bench/run.sh compare --rounds 5
# Results: bench/results/results.md and results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
scenario="${1:-all}"
[ $# -gt 0 ] && shift
missing=()
for p in nats-server rabbitmq-server; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]} (Debian packages)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
./lantoa.sh build
exec build/bench/lantoa-bench --scenario "$scenario" "$@"
