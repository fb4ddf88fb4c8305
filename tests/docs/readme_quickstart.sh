#!/usr/bin/env bash
# Runs the README's quickstart block exactly as written (between the
# <!-- quickstart --> markers), with its build/ paths pointed at BUILD_DIR.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
build="$(cd "${1:?usage: readme_quickstart.sh BUILD_DIR}" && pwd)"
script=$(awk '/<!-- quickstart -->/ { on = 1; next } /<!-- \/quickstart -->/ { on = 0 } on && !/^```/' "$here/README.md")
[ -n "$script" ] || { echo "no quickstart block in README.md"; exit 1; }
script="${script//\$PWD\/build\//$build/}"
out=$(cd "$here" && bash -euo pipefail -c "$script" 2>&1) || { echo "$out"; echo "the quickstart failed"; exit 1; }
echo "$out"
grep -q "accepted" <<<"$out" || { echo "no 'accepted' in the output"; exit 1; }
grep -q "signed by vn.gov" <<<"$out" && grep -q "verified" <<<"$out" || { echo "nothing received verified"; exit 1; }
grep -q "Thông cáo báo chí về phiên họp Chính phủ" <<<"$out" || { echo "the headline did not come back intact"; exit 1; }
echo "the README quickstart works"
