#!/usr/bin/env bash
# The national demo network: what Lantoa is for, on one machine, on loopback.
#
# A root authority vn (the Government portal's offline key) and a delegated
# authority vn.qn (Quảng Ninh); a network of four lantoa-brokers, each with
# its embedded LMDB store (docs/federation.md):
#   - the central broker (vn.central), for vn.gov and vn.ldtbxh;
#   - the Quảng Ninh broker (vn.qn.broker, certified by vn.qn), for vn.qn and
#     vn.qn.halong, linked to the centre (through link_proxy.py, a stand-in for
#     the province's line, which step 10 cuts);
#   - the defence network's broker (vn.bqp.broker), for vn.bqp, joined to the
#     centre only through the gateway (vn.gateway), which lets out vn.bqp.notice
#     and lets in vn.gov.press, nothing else;
# one lantoa-node per portal (vn.gov, vn.bqp, vn.ldtbxh, vn.qn, vn.qn.halong),
# each beside a stand-in CMS (lantoa-demo-cms, a real HTTP server receiving
# the node's webhooks). Then a scenario in 12 steps, printed as it happens;
# the script exits non-zero if any step does not turn out as described, and
# stops every process it started.
#
#   examples/national-network/run.sh BUILD_DIR [--work DIR] [--keep]
#
# --keep leaves the network running after the scenario, for exploring, until
# Ctrl-C. Everything lives in the work folder (a new /tmp folder by default).
set -euo pipefail
build="$(cd "${1:?usage: run.sh BUILD_DIR [--work DIR] [--keep]}" && pwd)"
here="$(cd "$(dirname "$0")" && pwd)"
shift
work="" keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --work) work="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
work="${work:-$(mktemp -d /tmp/lantoa-national.XXXXXX)}"
mkdir -p "$work" && cd "$work"
L="$build/tools/lantoa"
NODE="$build/node/lantoa-node"
CMS="$build/examples/lantoa-demo-cms"
PORTALS=(vn.gov vn.bqp vn.ldtbxh vn.qn vn.qn.halong)
failures=0
declare -A node_pid cms_pid api broker_pid
BROKERS=(broker broker-qn broker-bqp broker-gw)  # data folders
# Which broker each portal uses.
broker_of() {
  case "$1" in
    vn.qn | vn.qn.halong) echo broker-qn ;;
    vn.bqp) echo broker-bqp ;;
    *) echo broker ;;
  esac
}

b() { printf '\033[1m%s\033[0m' "$*"; }
step() { printf '\n\033[1m[%s] %s\033[0m\n' "$1" "$2"; }
ok() { printf '    \033[32mok\033[0m    %s\n' "$1"; }
bad() { printf '    \033[31mFAIL\033[0m  %s\n' "$1"; failures=$((failures + 1)); }
check() {  # check DESCRIPTION COMMAND...: ok when the command succeeds
  local what="$1"; shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}

cleanup() {
  for p in "${PORTALS[@]}"; do
    [ -n "${node_pid[$p]:-}" ] && kill "${node_pid[$p]}" 2>/dev/null
    [ -n "${cms_pid[$p]:-}" ] && kill "${cms_pid[$p]}" 2>/dev/null
  done
  for d in "${BROKERS[@]}"; do [ -n "${broker_pid[$d]:-}" ] && kill "${broker_pid[$d]}" 2>/dev/null; done
  [ -n "${proxy_pid:-}" ] && kill "$proxy_pid" 2>/dev/null
  wait 2>/dev/null
  true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() {  # wait_for SECONDS COMMAND...: polls until the command succeeds
  local until=$((SECONDS + $1)); shift
  until "$@"; do
    [ $SECONDS -ge $until ] && return 1
    sleep 0.1
  done
}

# --- the portals' nodes and CMSs -------------------------------------------

# (Checks read files directly or with grep -c: no `cmd | grep -q`, whose early
# exit would make the writer fail under pipefail.)
tsv() { echo "portals/$1/cms/received.tsv"; }
received() { cat "$(tsv "$1")" 2>/dev/null || true; }
contains() { [ "$(grep -cF -- "$2" "$(tsv "$1")" 2>/dev/null)" -gt 0 ]; }  # contains PORTAL TEXT
count() { received "$1" | wc -l; }
has_at_least() { [ "$(count "$1")" -ge "$2" ]; }
# Prints what a portal's CMS received (lines $2 to $3) as readable lines.
show() {
  sed -n "${2:-1},${3:-\$}p" "portals/$1/cms/received.tsv" 2>/dev/null | while IFS=$'\t' read -r kind topic signer sig urgency version id ref headline note; do
    printf '    %-13s ← %-10s %-17s signed by %-13s %-9s urgency %s, v%s  «%s»\n' \
      "$1" "$kind" "$topic" "$signer" "$sig" "$urgency" "$version" "$headline"
    if [ -n "$note" ] && [ "$note" != "-" ]; then printf '    %-13s   %s\n' "" "$note"; fi
  done
}

subscriptions_of() {
  case "$1" in
    vn.gov) ;;  # the centre publishes, and reviews what is proposed to it (its inbox)
    vn.bqp) printf 'filters = ["vn.gov.press"]\n' ;;
    vn.ldtbxh) printf 'filters = ["vn.gov.press", "vn.qn.news"]\n' ;;
    vn.qn) printf 'filters = ["vn.gov.press", "vn.bqp.>", "vn.qn.>"]\n' ;;
    vn.qn.halong) printf 'filters = ["vn.gov.press", "vn.qn.news"]\n' ;;
  esac
}

start_cms() {
  local p=$1 dir="portals/$1/cms"
  mkdir -p "$dir" && rm -f "$dir/cms.port"
  "$CMS" --dir "$dir" >"$dir/cms.log" 2>&1 &
  cms_pid[$p]=$!
  wait_for 10 test -s "$dir/cms.port" || { echo "the stand-in CMS of $p did not start"; exit 1; }
}

write_node_config() {
  local p=$1 dir="portals/$1"
  openssl rand -hex 24 >"$dir/api.token" 2>/dev/null || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/api.token"
  chmod 600 "$dir/api.token"
  {
    printf 'member = "%s"\nkey = "../../%s.key"\nchain = "../../%s.cert"\nroot = "../../vn.pub"\ndata = "data"\n\n' "$p" "$p" "$p"
    printf '[broker]\nkey = "%s/%s/broker.ready.json"\n\n' "$work" "$(broker_of "$p")"
    printf '[api]\nlisten = "127.0.0.1:0"\ntoken_file = "api.token"\n\n'
    printf '[[webhooks]]\nname = "cms"\nurl = "http://127.0.0.1:%s/lantoa/receive"\nmax_backoff_ms = 1000\n\n' \
      "$(cat "$dir/cms/cms.port")"
    [ "$p" = vn.gov ] && printf '[review]\nendorse_topic = "vn.gov.press"\n\n'
    if [ -n "$(subscriptions_of "$p")" ]; then
      printf '[[subscriptions]]\nname = "%s-inbound"\nstart = "earliest"\n%s\n' "${p//./-}" "$(subscriptions_of "$p")"
    fi
  } >"$dir/node.toml"
}

api_call() {  # api_call PORTAL METHOD PATH [BODY from stdin]
  local p=$1 method=$2 path=$3
  if [ "$method" = POST ]; then
    curl -s -X POST -H "Authorization: Bearer $(cat "portals/$p/api.token")" -H 'Content-Type: application/json' \
      --data-binary @- "${api[$p]}$path"
  else
    curl -s -H "Authorization: Bearer $(cat "portals/$p/api.token")" "${api[$p]}$path"
  fi
}

subscriptions_open() {
  local want  # the configured ones, and the portal's inbox (proposals to review, answers)
  want=$(( $(subscriptions_of "$1" | grep -c filters || true) + 1 ))
  [[ "$(api_call "$1" GET /v1/status)" == *"\"open\":$want"* ]]
}

start_node() {
  local p=$1 dir="portals/$1"
  rm -f "$dir/data/node.ready.json"
  "$NODE" --config "$dir/node.toml" >>"$dir/node.log" 2>&1 &
  node_pid[$p]=$!
  wait_for 15 test -s "$dir/data/node.ready.json" || { cat "$dir/node.log"; echo "the node of $p did not start"; exit 1; }
  api[$p]=$(sed -n 's/.*"api":"\([^"]*\)".*/\1/p' "$dir/data/node.ready.json")
  wait_for 15 subscriptions_open "$p" || { cat "$dir/node.log"; echo "the subscriptions of $p did not open"; exit 1; }
}

stop_node() {
  kill -TERM "${node_pid[$1]}" && wait "${node_pid[$1]}" 2>/dev/null || true
  node_pid[$1]=""
}

# publish PORTAL [QUERY]: the JSON body on stdin; prints the event id.
publish() {
  local answer
  answer=$(api_call "$1" POST "/v1/events${2:-}")
  local id
  id=$(sed -n 's/.*"id":"\([0-9a-f]\{64\}\)".*/\1/p' <<<"$answer")
  if [ -z "$id" ]; then
    echo "publishing through $1 failed: $answer" >&2
    return 1
  fi
  echo "$id"
}
accepted() { [[ "$(api_call "$1" GET "/v1/events/$2")" == *'"status":"accepted"'* ]]; }
got_id() { contains "$1" "$2"; }

# --- set-up -----------------------------------------------------------------

# start_broker DIR MEMBER [CONFIG LINES]: a broker certified as MEMBER, with
# its data in DIR and the configuration lines given (its [[links]]).
start_broker() {
  local d=$1 member=$2
  mkdir -p "$d/certs" && cp vn.pub "$d/trust-root.pub"
  cp ./*.cert "$d/certs/"  # admission by certificate: the broker knows its members' (and peers') certificates
  { printf 'key = "%s/%s.key"\ncertificate = "%s/%s.cert"\n' "$work" "$member" "$work" "$member"; printf '%s\n' "${3:-}"; } \
    >"$d.toml"
  "$build/broker/lantoa-broker" --config "$d.toml" --data "$d" --listen 'tcp://127.0.0.1:*' --monitor 127.0.0.1:0 \
    --heartbeat-ms 1000 --log-level warn >"$d.log" 2>&1 &
  broker_pid[$d]=$!
  wait_for 10 test -s "$d/broker.ready.json" || { cat "$d.log"; echo "the broker in $d did not start"; exit 1; }
}
monitor_of() { sed -n 's/.*"monitor": *"\([^"]*\)".*/\1/p' "$1/broker.ready.json"; }
endpoint_of() { sed -n 's/.*"endpoint": *"\([^"]*\)".*/\1/p' "$1/broker.ready.json"; }
link_toml() {  # link_toml NAME ENDPOINT PEER_DIR [MORE LINES]
  printf '[[links]]\nname = "%s"\nendpoint = "%s"\nkey = "%s/%s/broker.ready.json"\n%s\n' "$1" "$2" "$work" "$3" "${4:-}"
}
links_up() {  # links_up DIR N: N links that broker dials are up (the STATE column of lantoa links)
  [ "$("$L" links --monitor "$(monitor_of "$1")" | grep -c ' up$')" -ge "$2" ]
}

step 0 "Setting up in $work"
for id in vn "${PORTALS[@]}" vn.central vn.qn.broker vn.bqp.broker vn.gateway; do "$L" keygen --member "$id" >/dev/null; done
"$L" cert issue --issuer-key vn.key --public vn.gov.pub --roles publisher,subscriber,editor >/dev/null
"$L" cert issue --issuer-key vn.key --public vn.bqp.pub --roles publisher,subscriber >/dev/null
"$L" cert issue --issuer-key vn.key --public vn.ldtbxh.pub --roles publisher,subscriber >/dev/null
"$L" cert issue --issuer-key vn.key --public vn.qn.pub --roles authority,publisher,subscriber >/dev/null
"$L" cert issue --issuer-key vn.qn.key --issuer-chain vn.qn.cert --public vn.qn.halong.pub \
  --roles publisher,subscriber >/dev/null
ok "root authority vn; vn.gov (an editor too), vn.bqp, vn.ldtbxh, vn.qn certified by vn; vn.qn.halong by vn.qn"
for b_ in vn.central vn.bqp.broker vn.gateway; do "$L" cert issue --issuer-key vn.key --public "$b_.pub" --roles broker >/dev/null; done
"$L" cert issue --issuer-key vn.qn.key --issuer-chain vn.qn.cert --public vn.qn.broker.pub --roles broker >/dev/null
ok "brokers certified with the broker role: vn.central, vn.bqp.broker, vn.gateway by vn; vn.qn.broker by vn.qn"
start_broker broker vn.central
monitor=$(monitor_of broker)
central=$(endpoint_of broker)
ok "the central broker vn.central with its embedded LMDB store ($central)"
python3 "$here/link_proxy.py" qn-line.port "${central##*:}" >qn-line.log 2>&1 &
proxy_pid=$!
wait_for 10 test -s qn-line.port || { echo "the stand-in line to Quảng Ninh did not start"; exit 1; }
start_broker broker-qn vn.qn.broker "$(link_toml central "tcp://127.0.0.1:$(cat qn-line.port)" broker)"
ok "the Quảng Ninh broker vn.qn.broker, linked to the centre (it serves vn.qn and below: its certificate is from vn.qn)"
start_broker broker-bqp vn.bqp.broker
start_broker broker-gw vn.gateway "$(link_toml military "$(endpoint_of broker-bqp)" broker-bqp 'import = ["vn.bqp.notice"]
export = ["vn.gov.press"]')
$(link_toml central "$central" broker 'import = ["vn.gov.press"]
export = ["vn.bqp.notice"]')"
ok "the defence broker vn.bqp.broker, joined to the centre only through the gateway vn.gateway"
if wait_for 20 links_up broker-qn 1 && wait_for 20 links_up broker-gw 2; then
  ok "links up: Quảng Ninh - centre, defence - gateway - centre"
else
  bad "the links did not come up"
fi
for p in "${PORTALS[@]}"; do
  mkdir -p "portals/$p"
  start_cms "$p"
  write_node_config "$p"
  start_node "$p"
done
ok "a lantoa-node and a stand-in CMS for each of ${PORTALS[*]}"
# Each broker tells its peers what its portals subscribed to (a moment).
wait_for 20 grep -q 'vn.gov.press' <("$L" links --monitor "$(monitor_of broker-gw)" --json) || true
sleep 1

# --- the scenario -------------------------------------------------------------

step 1 "Down: vn.gov publishes a press release on vn.gov.press"
press=$(publish vn.gov <<'EOF'
{"topic": "vn.gov.press", "urgency": 3,
 "headline": "Hội nghị đầu tiên giữa các Cổng Thông tin điện tử Bộ, ngành, địa phương",
 "summary": "Tăng cường phối hợp, lan tỏa thông tin chính thống trên môi trường mạng.",
 "body": "<p>Sáng 12/8, tại Hà Nội, Cổng Thông tin điện tử Chính phủ tổ chức Hội nghị đầu tiên giữa các Cổng TTĐT bộ, ngành, địa phương.</p>",
 "body_type": "text/html", "subjects": [{"code": "medtop:11000000", "name": "chính trị"}],
 "link": "https://baochinhphu.vn/tong-thuat-hoi-nghi-dau-tien-giua-cac-cong-ttdt-bo-nganh-102230812072828677.htm"}
EOF
)
wait_for 15 accepted vn.gov "$press" && ok "accepted by the broker (on disk before it said so): ${press:0:16}…" \
  || bad "the press release was not accepted"
for p in vn.bqp vn.ldtbxh vn.qn vn.qn.halong; do
  if wait_for 20 got_id "$p" "$press"; then n=$(grep -nF "$press" "$(tsv "$p")" | cut -d: -f1); show "$p" "$n" "$n"; else bad "$p did not receive it"; fi
done
all_down=1
for p in vn.bqp vn.ldtbxh vn.qn vn.qn.halong; do
  line=$(grep -F "$press" "$(tsv "$p")" || true)
  [[ "$line" == *"Hội nghị đầu tiên giữa các Cổng Thông tin điện tử Bộ, ngành, địa phương"* ]] || all_down=0
  [[ "$line" == *$'\tverified\t'* ]] || all_down=0
done
check "every ministry and province received it, signed by vn.gov, verified, Vietnamese text intact" test $all_down = 1

step 2 "Sideways: vn.bqp publishes a flight-restriction notice on vn.bqp.notice"
notice=$(publish vn.bqp <<'EOF'
{"topic": "vn.bqp.notice", "urgency": 2, "headline": "Thông báo hạn chế bay tạm thời khu vực vịnh Hạ Long",
 "body": "Hạn chế hoạt động bay của tàu bay không người lái từ 06h00 đến 18h00 ngày 30/11."}
EOF
)
if wait_for 20 got_id vn.qn "$notice"; then n=$(grep -nF "$notice" "$(tsv vn.qn)" | cut -d: -f1); show vn.qn "$n" "$n"; ok "vn.qn received it"; else bad "vn.qn did not receive it"; fi
sleep 1
if got_id vn.ldtbxh "$notice"; then bad "vn.ldtbxh received a notice it does not subscribe to"; else ok "vn.ldtbxh did not receive it (not subscribed)"; fi

step 3 "Up: vn.qn.halong publishes local news; vn.qn subscribes to vn.qn.>"
local_news=$(publish vn.qn.halong <<'EOF'
{"topic": "vn.qn.halong.news", "headline": "Hạ Long khai mạc Lễ hội Du lịch biển năm 2026",
 "summary": "Chuỗi sự kiện văn hóa, thể thao diễn ra trong 3 ngày."}
EOF
)
if wait_for 20 got_id vn.qn "$local_news"; then n=$(grep -nF "$local_news" "$(tsv vn.qn)" | cut -d: -f1); show vn.qn "$n" "$n"; ok "vn.qn received its city's news"; else bad "vn.qn did not receive vn.qn.halong's news"; fi

step 4 "Priority: vn.ldtbxh's node is offline while a backlog builds up; a flash item goes first"
stop_node vn.ldtbxh
before=$(count vn.ldtbxh)
ids=()
for i in $(seq 1 10); do
  ids+=("$(publish vn.gov <<EOF
{"topic": "vn.gov.press", "urgency": 6, "headline": "Tin thường lệ số $i: lịch làm việc của Chính phủ"}
EOF
)")
done
flash=$(publish vn.gov <<'EOF'
{"topic": "vn.gov.press", "urgency": 1, "headline": "KHẨN: Công điện về ứng phó bão số 9"}
EOF
)
wait_for 15 accepted vn.gov "$flash" || bad "the flash item was not accepted"
ok "10 routine items (urgency 6), then 1 flash item (urgency 1), queued for vn.ldtbxh"
start_node vn.ldtbxh
wait_for 30 has_at_least vn.ldtbxh $((before + 11)) || bad "vn.ldtbxh did not catch up"
show vn.ldtbxh $((before + 1)) $((before + 3))
echo "    …"
first_after=$(received vn.ldtbxh | sed -n "$((before + 1))p" | cut -f7)
check "the flash item was delivered first, ahead of the backlog" test "$first_after" = "$flash"

step 5 "Correction: vn.gov corrects its press release (ninjs, same uri)"
correction=$(publish vn.gov '?topic=vn.gov.press' <<EOF
{"uri": "urn:lantoa:vn.gov:$press", "urgency": 3,
 "headlines": [{"value": "Hội nghị đầu tiên giữa các Cổng Thông tin điện tử Bộ, ngành, địa phương (cập nhật)"}],
 "bodies": [{"value": "<p>Bản cập nhật: bổ sung danh sách đại biểu.</p>", "contentType": "text/html"}]}
EOF
)
linked=1
for p in vn.bqp vn.ldtbxh vn.qn vn.qn.halong; do
  if wait_for 20 got_id "$p" "$correction"; then
    awk -F'\t' -v id="$correction" -v ref="$press" '$7 == id && $1 == "correction" && $8 == ref { found = 1 } END { exit !found }' \
      "$(tsv "$p")" || linked=0
    n=$(grep -nF "$correction" "$(tsv "$p")" | cut -d: -f1); show "$p" "$n" "$n"
  else
    linked=0
  fi
done
check "every receiver's CMS got the correction, linked to the original (refers_to, version 2)" test $linked = 1

step 6 "Forgery: an event claiming to be from vn.gov, signed with a key that is not vn.gov's"
"$L" keygen --member vn.gov --out forged >/dev/null
echo "    the forger has vn.gov's certificate (it is public) and a key of its own, and publishes with them"
forged_status=0
reason=$("$L" publish --key forged.key --chain vn.gov.cert --broker-key broker/broker.ready.json --timeout-ms 3000 \
  --topic vn.gov.press --headline 'Tin giả mạo Chính phủ' 2>&1) || forged_status=$?
echo "    the broker refused it: ${reason#lantoa: }"
if [ "$forged_status" -ne 0 ] && [[ "$reason" != *"accepted  sequence"* ]]; then
  ok "refused: the key is not the one vn.gov's certificate names; the event never got in"
else
  bad "the forgery was not refused (lantoa publish exited $forged_status)"
fi
sleep 1
if contains vn.qn 'Tin giả mạo' || contains vn.bqp 'Tin giả mạo'; then bad "a portal received the forgery"; else ok "no portal received it"; fi

step 7 "Offline portal: vn.qn.halong's node stops; news flows; it restarts and catches up"
stop_node vn.qn.halong
before=$(count vn.qn.halong)
missed=()
for i in 1 2; do
  missed+=("$(publish vn.gov <<EOF
{"topic": "vn.gov.press", "headline": "Thông cáo báo chí số $i trong lúc Hạ Long ngoại tuyến"}
EOF
)")
done
missed+=("$(publish vn.qn <<'EOF'
{"topic": "vn.qn.news", "headline": "Quảng Ninh: hướng dẫn phòng chống bão cho các địa phương ven biển"}
EOF
)")
ok "3 items published while it was down"
start_node vn.qn.halong
wait_for 30 has_at_least vn.qn.halong $((before + 3)) || true
show vn.qn.halong $((before + 1))
all_there=1
for id in "${missed[@]}"; do got_id vn.qn.halong "$id" || all_there=0; done
check "it received all 3 after restarting (nothing lost)" test $all_there = 1
sleep 1
dupes=$(received vn.qn.halong | cut -f7 | sort | uniq -d | wc -l)
check "and none twice (nothing repeated)" test "$dupes" -eq 0

step 8 "The operator's view: the broker's monitoring at $monitor"
echo "    \$ lantoa stats --monitor $monitor"
stats=$("$L" stats --monitor "$monitor")
printf '%s\n' "$stats" | sed 's/^/    /'
echo
echo "    \$ lantoa subs --monitor $monitor"
subs=$("$L" subs --monitor "$monitor")
printf '%s\n' "$subs" | sed 's/^/    /'
echo "    (each node also holds a NAME-trust subscription: revocation lists on \$trust.revocations; none were published)"
refused=$(sed -n 's/.*connections refused \([0-9]*\).*/\1/p' <<<"$stats")
check "the forger's refused connection is counted (connections refused: ${refused:-none})" test "${refused:-0}" -ge 1
check "per-topic and per-subscription figures (the links' queues among them)" grep -q "vn-ldtbxh-inbound" <<<"$subs"
echo
echo "    \$ lantoa links --monitor $monitor"
"$L" links --monitor "$monitor" | sed 's/^/    /'
echo
echo "    The spread of step 1's press release: did every portal get it?"
echo "    \$ lantoa trace ${press:0:16}… --monitor $monitor --wait 10"
trace_status=0
trace=$("$L" trace "$press" --monitor "$monitor" --wait 10 2>&1) || trace_status=$?
printf '%s\n' "$trace" | sed 's/^/    /'
check "every subscription it went to acknowledged it (lantoa trace --wait)" test "$trace_status" -eq 0
echo "    (the same, live, in a browser: the dashboard at $monitor/ and $monitor/#spread/$press)"

step 9 "Across brokers: each event verified at every hop, delivered once"
qn_monitor=$(monitor_of broker-qn)
echo "    \$ lantoa links --monitor $qn_monitor   (the Quảng Ninh broker)"
"$L" links --monitor "$qn_monitor" | sed 's/^/    /'
once=1
for p in "${PORTALS[@]}"; do
  [ "$(received "$p" | cut -f7 | sort | uniq -d | wc -l)" -eq 0 ] || once=0
done
check "no portal received any event twice, whatever path it took" test $once = 1

step 10 "Partition: Quảng Ninh's line to the centre is cut while news flows both ways, then healed"
qn_link_down() { ! links_up broker-qn 1; }
kill -USR1 "$proxy_pid"
if wait_for 15 qn_link_down; then ok "the Quảng Ninh broker sees its link down"; else bad "the link did not go down"; fi
down_news=() up_news=()
for i in 1 2; do
  down_news+=("$(publish vn.gov <<EOF
{"topic": "vn.gov.press", "headline": "Thông cáo số $i trong lúc đường truyền Quảng Ninh bị gián đoạn"}
EOF
)")
  up_news+=("$(publish vn.qn <<EOF
{"topic": "vn.qn.news", "headline": "Quảng Ninh: tin số $i gửi lên trong lúc mất kết nối"}
EOF
)")
done
sleep 2
if got_id vn.qn.halong "${down_news[0]}" || got_id vn.ldtbxh "${up_news[0]}"; then
  bad "news crossed a cut line"
else
  ok "2 press releases wait at the centre, 2 Quảng Ninh items at the province (on disk, queued for the link)"
fi
kill -USR2 "$proxy_pid"
all_there=1
for id in "${down_news[@]}"; do
  wait_for 30 got_id vn.qn.halong "$id" || all_there=0
  wait_for 10 got_id vn.qn "$id" || all_there=0
done
for id in "${up_news[@]}"; do wait_for 30 got_id vn.ldtbxh "$id" || all_there=0; done
check "healed: every item reached every portal that subscribed to it (nothing lost)" test $all_there = 1
sleep 1
dupes=0
for p in vn.qn vn.qn.halong vn.ldtbxh; do dupes=$((dupes + $(received "$p" | cut -f7 | sort | uniq -d | wc -l))); done
check "and none twice (nothing doubled)" test "$dupes" -eq 0

step 11 "The gateway: only what it exports leaves the defence network"
internal=$(publish vn.bqp <<'EOF'
{"topic": "vn.bqp.internal", "headline": "Kế hoạch nội bộ: không được ra khỏi mạng quân sự"}
EOF
)
public_notice=$(publish vn.bqp <<'EOF'
{"topic": "vn.bqp.notice", "urgency": 3, "headline": "Thông báo công khai: diễn tập phòng không ngày 05/12"}
EOF
)
if wait_for 20 got_id vn.qn "$public_notice"; then
  ok "the public notice (vn.bqp.notice) reached vn.qn, through the gateway, the centre and the Quảng Ninh broker"
else
  bad "the public notice did not reach vn.qn"
fi
sleep 1
if got_id vn.qn "$internal"; then bad "vn.bqp.internal left the defence network"; else ok "vn.bqp.internal did not leave it, though vn.qn subscribes to vn.bqp.>"; fi
echo "    \$ lantoa links --monitor $(monitor_of broker-gw)   (the gateway)"
"$L" links --monitor "$(monitor_of broker-gw)" | sed 's/^/    /'

step 12 "Up with review: vn.ldtbxh proposes two items to vn.gov, whose editor endorses one and rejects the other"
review_cli() { "$L" review "$@" --node "${api[vn.gov]}" --token-file portals/vn.gov/api.token; }
proposal_a=$(api_call vn.ldtbxh POST '/v1/proposals?reviewer=vn.gov' <<'EOF' | sed -n 's/.*"id":"\([0-9a-f]\{64\}\)".*/\1/p'
{"urgency": 4, "headline": "Hướng dẫn nộp hồ sơ hưởng trợ cấp thất nghiệp trực tuyến",
 "summary": "Người lao động nộp hồ sơ qua Cổng Dịch vụ công quốc gia từ ngày 01/12.",
 "body": "Bộ Lao động - Thương binh và Xã hội hướng dẫn các bước nộp hồ sơ trực tuyến."}
EOF
)
proposal_b=$(api_call vn.ldtbxh POST '/v1/proposals?reviewer=vn.gov' <<'EOF' | sed -n 's/.*"id":"\([0-9a-f]\{64\}\)".*/\1/p'
{"urgency": 6, "headline": "Lịch tiếp công dân tháng 12 của Bộ"}
EOF
)
proposal_c=$(api_call vn.qn POST '/v1/proposals?reviewer=vn.gov' <<'EOF' | sed -n 's/.*"id":"\([0-9a-f]\{64\}\)".*/\1/p'
{"urgency": 5, "headline": "Quảng Ninh hoàn thành cao tốc Vân Đồn - Móng Cái"}
EOF
)
if [ -n "$proposal_a" ] && [ -n "$proposal_b" ] && [ -n "$proposal_c" ]; then
  ok "two proposals from vn.ldtbxh, one from vn.qn (from behind the province's line), on vn.gov's inbox: only the two ends read them"
else
  bad "a proposal was not taken"
fi
queue_full() { [ "$(review_cli list --state pending | grep -c ' pending ')" -ge 3 ]; }
wait_for 30 queue_full || bad "the proposals did not reach vn.gov's review queue"
echo "    \$ lantoa review list --node ${api[vn.gov]} --token-file portals/vn.gov/api.token"
review_cli list | sed 's/^/    /'
echo "    \$ lantoa review endorse ${proposal_a:0:16}…"
endorsed=$(review_cli endorse "$proposal_a" --text "Đăng trên Cổng Chính phủ" 2>&1) || bad "endorse: $endorsed"
echo "    $endorsed"
endorsement=$(sed -n 's/.* as event \([0-9a-f]\{64\}\).*/\1/p' <<<"$endorsed")
echo "    \$ lantoa review reject ${proposal_b:0:16}… --text …"
review_cli reject "$proposal_b" --text "Tin nội bộ của Bộ, không đăng trên Cổng Chính phủ" 2>&1 | sed 's/^/    /'
echo "    \$ lantoa review reject ${proposal_c:0:16}… --changes --text …"
review_cli reject "$proposal_c" --changes --text "Đề nghị bổ sung ảnh và nguồn tin" 2>&1 | sed 's/^/    /'
endorsed_everywhere=1
for p in vn.bqp vn.ldtbxh vn.qn vn.qn.halong; do
  if wait_for 20 got_id "$p" "$endorsement"; then
    # (the event id column: vn.ldtbxh's answer names the endorsement in its text too)
    lines=$(awk -F'\t' -v id="$endorsement" '$7 == id { print NR }' "$(tsv "$p")")
    n=$(head -1 <<<"$lines"); show "$p" "$n" "$n"
    [ "$(wc -l <<<"$lines")" -eq 1 ] || endorsed_everywhere=0
    [ "$(sed -n "${n}p" "$(tsv "$p")" | cut -f10)" = "endorsed by vn.gov, written by vn.ldtbxh" ] \
      || endorsed_everywhere=0
  else
    endorsed_everywhere=0
  fi
done
check "every portal on vn.gov.press got the endorsed item once: both signatures verified, its provenance shown" \
  test $endorsed_everywhere = 1
answers_back() { contains vn.ldtbxh $'\trejected: Tin nội bộ' && contains vn.qn $'\tchanges_requested: Đề nghị bổ sung'; }
if wait_for 20 answers_back; then
  for p in vn.ldtbxh vn.qn; do
    n=$(grep -nE $'^reply\t' "$(tsv "$p")" | tail -1 | cut -d: -f1); show "$p" "$n" "$n"
  done
  ok "the answers reached the proposers' CMSs by webhook: the reason for vn.ldtbxh, the changes asked of vn.qn"
else
  bad "the answers did not reach the proposers' CMSs"
fi
leaked=0
for p in vn.bqp vn.qn.halong; do  # nothing on an inbox topic ($2), no answer ($1)
  if [ "$(awk -F'\t' '$1 == "reply" || index($2, "$inbox") { n++ } END { print n + 0 }' "$(tsv "$p")")" -gt 0 ]; then
    leaked=1
  fi
done
check "no other portal saw a proposal or an answer" test $leaked = 0

echo
if [ "$failures" -eq 0 ]; then
  echo "All 12 steps behaved as described. (Files, logs and each CMS's received.tsv in $work)"
else
  echo "$failures check(s) FAILED. Logs: $work/broker*.log and $work/portals/*/node.log"
  exit 1
fi
if [ "$keep" = 1 ]; then
  echo
  b "The network keeps running (Ctrl-C stops it)."; echo
  for d in "${BROKERS[@]}"; do echo "  $d monitoring:  $(monitor_of "$d")/api/v1/stats"; done
  for p in "${PORTALS[@]}"; do
    echo "  $p API:  ${api[$p]}  (token in $work/portals/$p/api.token; try GET /v1/feed.atom)"
  done
  while true; do sleep 3600; done
fi
