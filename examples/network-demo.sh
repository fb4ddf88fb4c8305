#!/usr/bin/env bash
# A small Lantoa network on loopback, driven only through the `lantoa` command
# line, as an operator would: a trust tree, one broker with its embedded LMDB
# store, portals that publish and subscribe, a forgery refused, a stolen key
# revoked over the bus, and the operator's view. Exits non-zero if any step
# does not turn out as described. (The national network with portal nodes
# and stand-in CMSs is examples/national-network/run.sh.)
#
#   examples/network-demo.sh BUILD_DIR [WORK_DIR]
set -euo pipefail
build="$(cd "${1:?usage: network-demo.sh BUILD_DIR [WORK_DIR]}" && pwd)"
work="${2:-$(mktemp -d /tmp/lantoa-demo.XXXXXX)}"
mkdir -p "$work" && cd "$work"
L="$build/tools/lantoa"
failures=0
broker_pid=""

step() { printf '\n\033[1m[%s] %s\033[0m\n' "$1" "$2"; }
ok() { printf '    ok    %s\n' "$1"; }
bad() { printf '    FAIL  %s\n' "$1"; failures=$((failures + 1)); }
expect_in() {  # expect_in TEXT NEEDLE DESCRIPTION
  if grep -qF -- "$2" <<<"$1"; then ok "$3"; else bad "$3"; printf '%s\n' "$1" | sed 's/^/          /'; fi
}
cleanup() { [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null; true; }
trap cleanup EXIT

step 1 "Trust tree: root vn (offline key), ministries, a province authority and a city portal"
for id in vn vn.gov vn.bqp vn.ldtbxh vn.qn vn.qn.halong; do "$L" keygen --member "$id" >/dev/null; done
"$L" cert issue --issuer-key vn.key --public vn.gov.pub --roles publisher >/dev/null
"$L" cert issue --issuer-key vn.key --public vn.bqp.pub --roles publisher,subscriber >/dev/null
"$L" cert issue --issuer-key vn.key --public vn.ldtbxh.pub --roles subscriber >/dev/null
"$L" cert issue --issuer-key vn.key --public vn.qn.pub --roles authority,publisher,subscriber >/dev/null
"$L" cert issue --issuer-key vn.qn.key --issuer-chain vn.qn.cert --public vn.qn.halong.pub --roles publisher >/dev/null
expect_in "$("$L" cert verify vn.qn.halong.cert --root vn.pub)" "valid: vn.qn.halong" \
  "vn.qn.halong is certified by vn.qn, itself certified by the root"

step 2 "One lantoa-broker with its embedded LMDB store, on loopback"
mkdir -p broker/certs && cp vn.pub broker/trust-root.pub
cp ./*.cert broker/certs/  # admission by certificate: the broker knows its members' certificates
"$build/broker/lantoa-broker" --data broker --listen 'tcp://127.0.0.1:*' --monitor 127.0.0.1:0 \
  --log-level warn >broker.log 2>&1 &
broker_pid=$!
for _ in $(seq 100); do [ -s broker/broker.ready.json ] && break; sleep 0.1; done
[ -s broker/broker.ready.json ] || { cat broker.log; echo "the broker did not start"; exit 1; }
monitor=$(sed -n 's/.*"monitor": "\(.*\)".*/\1/p' broker/broker.ready.json)
export LANTOA_BROKER_KEY="$work/broker/broker.ready.json" LANTOA_ROOT="$work/vn.pub"
ok "listening as in broker/broker.ready.json; monitoring at $monitor"

as() { local who=$1; shift; "$L" "$@" --key "$who.key" --chain "$who.cert"; }
# Durable subscriptions exist from now on, whether their portal is connected or not.
as vn.qn tail --name from-centre --filter vn.gov.press --filter vn.bqp.notice --for-ms 200 >/dev/null
as vn.qn tail --name province --filter 'vn.qn.>' --for-ms 200 >/dev/null
as vn.ldtbxh tail --name from-centre --filter vn.gov.press --for-ms 200 >/dev/null

step 3 "Down: vn.gov publishes a press release; sideways: vn.bqp a notice; up: vn.qn.halong local news"
expect_in "$(as vn.gov publish --topic vn.gov.press --urgency 3 \
  --headline 'Hội nghị đầu tiên giữa các Cổng Thông tin điện tử Bộ, ngành' \
  --body 'Sáng 12/8, tại Hà Nội, Cổng Thông tin điện tử Chính phủ tổ chức hội nghị nhằm lan tỏa thông tin chính thống.')" \
  "accepted" "vn.gov.press accepted (after fsync)"
expect_in "$(as vn.bqp publish --topic vn.bqp.notice --urgency 1 --headline 'Thông báo vùng cấm bay tạm thời')" \
  "accepted" "vn.bqp.notice accepted"
expect_in "$(as vn.qn.halong publish --topic vn.qn.halong.news --headline 'Hạ Long khai mạc lễ hội du lịch biển')" \
  "accepted" "vn.qn.halong.news accepted"

step 4 "Forgery: vn.bqp tries to publish in vn.gov's name"
expect_in "$(as vn.bqp publish --topic vn.gov.press --headline 'Tin giả' 2>&1 || true)" "TOPIC_OUTSIDE_NAMESPACE" \
  "refused: a member publishes only under its own id"

step 5 "What each portal received, verified against the root on its own machine"
qn_got=$(as vn.qn tail --name from-centre --count 2 --for-ms 5000)
printf '%s\n' "$qn_got" | sed 's/^/    /'
expect_in "$qn_got" "signed by vn.bqp" "vn.qn got the flash notice from vn.bqp"
expect_in "$qn_got" "Hội nghị đầu tiên giữa các Cổng Thông tin điện tử Bộ, ngành" "vn.qn got the press release, text intact"
up=$(as vn.qn tail --name province --count 1 --for-ms 5000)
expect_in "$up" "signed by vn.qn.halong" "vn.qn got its city's news (vn.qn.>)"
ld=$(as vn.ldtbxh tail --name from-centre --count 5 --for-ms 1500)
expect_in "$ld" "signed by vn.gov" "vn.ldtbxh got the press release"
if grep -q "vn.bqp" <<<"$ld"; then bad "vn.ldtbxh got the notice it did not subscribe to"; else ok "vn.ldtbxh did not get the notice (not subscribed)"; fi

step 6 "vn.qn.halong's key is stolen: vn.qn revokes it, on the bus"
"$L" cert revoke --issuer-key vn.qn.key --issuer-chain vn.qn.cert --cert vn.qn.halong.cert >/dev/null
expect_in "$("$L" cert publish-revocations vn.qn.crl --key vn.qn.key --chain vn.qn.cert)" "is on the bus" \
  "the revocation list is applied by the broker"
expect_in "$(as vn.qn.halong publish --topic vn.qn.halong.news --headline 'Tin của kẻ trộm khóa' --timeout-ms 2000 2>&1 || true)" \
  "PERMISSION_DENIED" "the stolen key is refused before it can send anything"

step 7 "The operator's view ($monitor)"
stats=$("$L" stats --monitor "$monitor")
printf '%s\n' "$stats" | sed 's/^/    /'
expect_in "$stats" "CERT_REVOKED" "the stolen key's refused connection is counted, with its reason"
subs=$("$L" subs --monitor "$monitor")
printf '%s\n' "$subs" | sed 's/^/    /'
expect_in "$subs" "from-centre" "per-subscription figures"

echo
if [ "$failures" -eq 0 ]; then
  echo "All steps behaved as described. (Files in $work)"
else
  echo "$failures step(s) FAILED. Broker log: $work/broker.log"
  exit 1
fi
