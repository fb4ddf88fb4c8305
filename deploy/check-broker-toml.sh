#!/usr/bin/env bash
# Checks a broker.toml (default: deploy/broker.toml, the one the lantoa-broker
# package installs as /etc/lantoa/broker.toml): every key in it is a setting
# `lantoa-broker settings` lists, and a broker starts on it (its data folder,
# root key, endpoint and monitoring port moved to a temporary folder).
#   check-broker-toml.sh BROKER LANTOA [broker.toml]     (a test: deploy.broker_toml)
set -euo pipefail
broker="$(realpath "${1:?usage: check-broker-toml.sh BROKER LANTOA [broker.toml]}")"
lantoa="$(realpath "${2:?usage: check-broker-toml.sh BROKER LANTOA [broker.toml]}")"
toml="$(realpath "${3:-$(dirname "$0")/broker.toml}")"
settings=$("$broker" settings)
section=""
while IFS= read -r line; do
  if [[ "$line" =~ ^\[([a-z_]+)\] ]]; then section="[${BASH_REMATCH[1]}] "; continue; fi
  [[ "$line" =~ ^([a-z_]+)[[:space:]]*= ]] || continue
  key="$section${BASH_REMATCH[1]}"
  grep -qF "| \`$key\` |" <<<"$settings" || { echo "$toml: '$key' is not in 'lantoa-broker settings'"; exit 1; }
done <"$toml"
work=$(mktemp -d)
pid=""
trap '[ -z "$pid" ] || { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }; rm -rf "$work"' EXIT
(cd "$work" && "$lantoa" keygen --member vn >/dev/null)
"$broker" --config "$toml" --data "$work/data" --trust-root "$work/vn.pub" \
  --listen 'tcp://127.0.0.1:*' --monitor 127.0.0.1:0 >"$work/broker.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -s "$work/data/broker.ready.json" ] && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
[ -s "$work/data/broker.ready.json" ] || { cat "$work/broker.log"; echo "no broker started on $toml"; exit 1; }
echo "$toml: every key is a setting, and a broker starts on it"
