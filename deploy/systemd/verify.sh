#!/usr/bin/env bash
# Checks the unit files with systemd-analyze verify, pointed at the built
# binaries (a test; skipped where systemd-analyze is missing).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:?usage: verify.sh BUILD_DIR}" && pwd)"
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not installed: skipped"; exit 0; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s|/usr/local/bin/lantoa-broker|$build/broker/lantoa-broker|" "$here/lantoa-broker.service" >"$work/lantoa-broker.service"
sed "s|/usr/local/bin/lantoa-node|$build/node/lantoa-node|" "$here/lantoa-node.service" >"$work/lantoa-node.service"
out=$(systemd-analyze verify "$work/lantoa-broker.service" "$work/lantoa-node.service" 2>&1 || true)
# Lines about the host's own units (in containers) are not ours.
ours=$(grep -E "lantoa-(broker|node)\.service" <<<"$out" || true)
if [ -n "$ours" ]; then echo "$ours"; exit 1; fi
echo "the systemd units verify"
