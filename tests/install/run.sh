#!/usr/bin/env bash
# Installs the build into a temporary prefix, then builds a program outside
# the tree against it twice: with find_package(lantoa) and with pkg-config;
# the monitoring files (dashboard, alert rules) are in share/lantoa/monitoring.
set -euo pipefail
build="$1"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$here/consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/consumer" >/dev/null
"$work/consumer/consumer"
libdir=$(dirname "$(find "$work/prefix" -name lantoa.pc)")
export PKG_CONFIG_PATH="$libdir"
c++ $(pkg-config --cflags lantoa) "$here/consumer/main.cpp" -o "$work/with-pkg-config" $(pkg-config --libs lantoa)
LD_LIBRARY_PATH="$(dirname "$libdir")" "$work/with-pkg-config"
for f in lantoa-broker.grafana.json lantoa-alerts.yml lantoa-alerts.test.yml; do
  [ -f "$work/prefix/share/lantoa/monitoring/$f" ] || { echo "share/lantoa/monitoring/$f is not installed"; exit 1; }
done
"$work/prefix/bin/lantoa" --help >/dev/null && echo "installed lantoa runs"
