#!/usr/bin/env bash
# Installs the Debian packages made by `./lantoa.sh package` on this machine,
# checks them, and purges them again (CI: a fresh Debian 12 image, as root).
#
#   tests/package/run.sh [PACKAGE_DIR]      (default: build-pkg/packages)
#
# Checks: lintian on every .deb (any E: fails; W: lines are printed, the ones
# we keep are listed in docs/operating-a-broker.md, "Install from packages");
# `apt-get install ./*.deb` resolves every dependency; each program's
# --version is the packages' version; the installed units pass
# `systemd-analyze verify`; a program builds against liblantoa-dev (CMake and
# pkg-config); a reinstall runs the maintainer scripts again; the user lantoa,
# /etc/lantoa-node (root:lantoa 0750), /var/spool/lantoa-node and the conffiles
# exist; lantoa-broker carries the dashboard and alert rules (/usr/share/lantoa/monitoring,
# the rules passing their promtool tests there); every key of
# /etc/lantoa/broker.toml is a broker setting and a broker starts on that file;
# a node starts, as user lantoa, on /etc/lantoa-node/node.toml as shipped (its
# data and spool paths moved to a temporary folder) and connects to that broker;
# `apt-get purge` leaves nothing behind.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dir="$(cd "${1:-$root/build-pkg/packages}" && pwd)"
packages=(liblantoa0 liblantoa-dev lantoa lantoa-broker lantoa-node)

if [ "$(id -u)" -ne 0 ]; then
  echo "package test skipped: it installs packages system-wide and needs root"
  exit 0
fi
shopt -s nullglob
debs=("$dir"/*.deb)
[ ${#debs[@]} -eq 5 ] || { echo "FAIL: expected 5 .deb files in $dir, found ${#debs[@]} (run ./lantoa.sh package)"; exit 1; }
fail() { echo "FAIL: $*" >&2; exit 1; }
say() { printf '==> %s\n' "$*"; }
export DEBIAN_FRONTEND=noninteractive

for p in "${packages[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    fail "$p is already installed here; this test installs and purges it (apt-get purge $p first)"
  fi
done
user_existed=no; getent passwd lantoa >/dev/null && user_existed=yes
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  apt-get purge -y -qq "${packages[@]}" >/dev/null 2>&1 || true
  if [ "$user_existed" = no ] && getent passwd lantoa >/dev/null; then userdel lantoa 2>/dev/null || true; fi
  if [ "$user_existed" = no ] && getent group lantoa >/dev/null; then groupdel lantoa 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# ---- lintian
command -v lintian >/dev/null || apt-get install -y -qq --no-install-recommends lintian >/dev/null
say "lintian"
lintian_out=$(lintian --allow-root --tag-display-limit 0 "${debs[@]}" 2>&1 || true)
[ -z "$lintian_out" ] || echo "$lintian_out"
errors=$(grep -c '^E:' <<<"$lintian_out" || true)
warnings=$(grep -c '^W:' <<<"$lintian_out" || true)
echo "lintian: $errors error(s), $warnings warning(s)"
[ "$errors" -eq 0 ] || fail "lintian found errors"

# ---- install
say "apt-get install ${debs[*]##*/}"
apt-get install -y -qq --no-install-recommends "${debs[@]}" >"$work/apt.log" 2>&1 || { cat "$work/apt.log"; fail "apt-get install"; }
version=$(dpkg-query -W -f='${Version}' lantoa-broker)
for p in lantoa lantoa-node liblantoa0 liblantoa-dev; do
  [ "$(dpkg-query -W -f='${Version}' "$p")" = "$version" ] || fail "$p is not version $version"
done
for prog in lantoa-broker lantoa-node lantoa; do
  [ "$(command -v "$prog")" = "/usr/bin/$prog" ] || fail "$prog is not /usr/bin/$prog"
  out=$("$prog" --version)
  grep -qF "$version" <<<"$out" || fail "$prog --version says '$out', not $version"
  echo "$prog --version: $out"
done
lib=$(ldd /usr/bin/lantoa-broker | sed -n 's/.*liblantoa.so.0 => \([^ ]*\) .*/\1/p')
[ "$(realpath "$lib")" = "$(realpath "$(dpkg -L liblantoa0 | grep '/liblantoa.so.0$')")" ] ||
  fail "lantoa-broker loads '$lib', not liblantoa0's library"
pkg-config --exists lantoa || fail "pkg-config does not find lantoa"
[ "$(pkg-config --modversion lantoa)" = "$version" ] || fail "lantoa.pc is not version $version"
# liblantoa-dev: a program outside the tree builds with find_package(lantoa) and with pkg-config.
if command -v c++ >/dev/null; then
  cmake -S "$root/tests/install/consumer" -B "$work/consumer" >/dev/null && cmake --build "$work/consumer" >/dev/null ||
    fail "tests/install/consumer does not build against liblantoa-dev"
  "$work/consumer/consumer" >/dev/null || fail "the consumer built against liblantoa-dev does not run"
  c++ $(pkg-config --cflags lantoa) "$root/tests/install/consumer/main.cpp" -o "$work/with-pkg-config" $(pkg-config --libs lantoa) ||
    fail "pkg-config lantoa does not build the consumer"
  "$work/with-pkg-config" >/dev/null || fail "the consumer built with pkg-config does not run"
  echo "liblantoa-dev: a program builds with find_package(lantoa) and with pkg-config, and runs"
else
  echo "no C++ compiler: the liblantoa-dev check is skipped"
fi

# ---- units
for unit in lantoa-broker lantoa-node; do
  f=/lib/systemd/system/$unit.service
  [ -f "$f" ] || fail "$f is missing"
  grep -q "^ExecStart=/usr/bin/$unit " "$f" || fail "$f: ExecStart is not /usr/bin/$unit"
  for doc in $(sed -n 's|^Documentation=||p' "$f"); do
    case "$doc" in file://*) [ -f "${doc#file://}" ] || fail "$f: Documentation=$doc is not installed" ;; esac
  done
done
if command -v systemd-analyze >/dev/null; then
  out=$(systemd-analyze verify /lib/systemd/system/lantoa-broker.service /lib/systemd/system/lantoa-node.service 2>&1 || true)
  ours=$(grep -E "lantoa-(broker|node)\.service" <<<"$out" || true)
  [ -z "$ours" ] || { echo "$ours"; fail "systemd-analyze verify"; }
  echo "the installed units verify"
else
  echo "systemd-analyze not installed: the unit check is skipped"
fi

# ---- a second configure (reinstall) changes nothing and does not fail
apt-get install -y -qq --reinstall "$dir"/lantoa-node_*.deb "$dir"/lantoa-broker_*.deb >"$work/apt.log" 2>&1 ||
  { cat "$work/apt.log"; fail "apt-get install --reinstall"; }

# ---- user, folders, conffiles
id lantoa || fail "no user lantoa"
[ "$(stat -c '%U:%G %a' /etc/lantoa-node)" = "root:lantoa 750" ] || fail "/etc/lantoa-node is $(stat -c '%U:%G %a' /etc/lantoa-node)"
[ "$(stat -c '%U:%G %a' /var/spool/lantoa-node)" = "lantoa:lantoa 750" ] || fail "/var/spool/lantoa-node is $(stat -c '%U:%G %a' /var/spool/lantoa-node)"
[ "$(stat -c '%a' /etc/lantoa)" = "755" ] || fail "/etc/lantoa is not 0755 (the broker's dynamic user reads it)"
dpkg-query -W -f='${Conffiles}\n' lantoa-broker | grep -q " /etc/lantoa/broker.toml " || fail "broker.toml is not a conffile"
dpkg-query -W -f='${Conffiles}\n' lantoa-node | grep -q " /etc/lantoa-node/node.toml " || fail "node.toml is not a conffile"

# ---- the monitoring files: lantoa-broker carries them, and the rules pass their tests where installed
broker_files=$(dpkg -L lantoa-broker)
for f in lantoa-broker.grafana.json lantoa-alerts.yml lantoa-alerts.test.yml; do
  grep -qx "/usr/share/lantoa/monitoring/$f" <<<"$broker_files" || fail "lantoa-broker does not install /usr/share/lantoa/monitoring/$f"
done
if command -v promtool >/dev/null; then
  promtool test rules /usr/share/lantoa/monitoring/lantoa-alerts.test.yml >/dev/null ||
    fail "promtool test rules /usr/share/lantoa/monitoring/lantoa-alerts.test.yml"
  echo "the installed alert rules pass their tests"
fi

# ---- /etc/lantoa/broker.toml: every key a setting, and a broker starts on it;
# that broker then serves the node below
bash "$root/deploy/check-broker-toml.sh" /usr/bin/lantoa-broker /usr/bin/lantoa /etc/lantoa/broker.toml
cd "$work"
lantoa keygen --member vn >/dev/null
lantoa keygen --member vn.qn >/dev/null
lantoa cert issue --issuer-key vn.key --public vn.qn.pub --roles publisher,subscriber >/dev/null
mkdir -p broker/certs && cp vn.qn.cert broker/certs/
lantoa-broker --config /etc/lantoa/broker.toml --data "$work/broker" --trust-root "$work/vn.pub" \
  --listen 'tcp://127.0.0.1:*' --monitor 127.0.0.1:0 >broker.log 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s broker/broker.ready.json ] && break; sleep 0.1; done
[ -s broker/broker.ready.json ] || { cat broker.log; fail "the broker did not start on /etc/lantoa/broker.toml"; }
echo "a broker starts on /etc/lantoa/broker.toml"

# ---- /etc/lantoa-node/node.toml as shipped, files beside it as the guide says,
# run as the unit runs it (user lantoa); only data, spool and endpoint moved.
endpoint=$(sed -n 's/.*"endpoint": *"\([^"]*\)".*/\1/p' broker/broker.ready.json)
node=$work/etc-node
mkdir -p "$node"
sed -e "s|^data = .*|data = \"$work/node-data\"|" -e "s|^dir = \"/var/spool/lantoa-node\"|dir = \"$work/spool\"|" \
    -e "s|^endpoint = .*|endpoint = \"$endpoint\"|" -e "s|^listen = \"127.0.0.1:8470\"|listen = \"127.0.0.1:0\"|" \
    /etc/lantoa-node/node.toml >"$node/node.toml"
cp vn.qn.key vn.qn.cert vn.pub broker/broker.ready.json "$node/"
openssl rand -hex 32 >"$node/api.token" && chmod 600 "$node/api.token"
mkdir -p "$work/spool" "$work/node-data"
chown -R lantoa:lantoa "$node" "$work/spool" "$work/node-data"
chmod 755 "$work"
setpriv --reuid lantoa --regid lantoa --clear-groups lantoa-node --config "$node/node.toml" >node.log 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/node-data/node.ready.json" ] && break; sleep 0.1; done
[ -s "$work/node-data/node.ready.json" ] || { cat node.log; fail "the node did not start on /etc/lantoa-node/node.toml"; }
for _ in $(seq 100); do grep -q ": connected" node.log && break; sleep 0.1; done
grep -q ": connected" node.log || { cat node.log; fail "the node did not connect to the broker"; }
echo "a node (user lantoa) starts on /etc/lantoa-node/node.toml and connects"
for pid in "${pids[@]}"; do kill "$pid"; wait "$pid" || true; done
pids=()
cd /

# ---- purge
say "apt-get purge"
apt-get purge -y -qq "${packages[@]}" >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "apt-get purge"; }
for f in /usr/bin/lantoa-broker /usr/bin/lantoa-node /usr/bin/lantoa /etc/lantoa /etc/lantoa-node \
         /lib/systemd/system/lantoa-broker.service /lib/systemd/system/lantoa-node.service /var/spool/lantoa-node \
         /usr/include/lantoa; do
  [ ! -e "$f" ] || fail "$f is still there after apt-get purge"
done
echo "the packages install, work and purge cleanly"
