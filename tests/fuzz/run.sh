#!/usr/bin/env bash
# Builds the libFuzzer targets with clang + ASan + UBSan and runs each for a
# bounded time (default 30 s; CI uses that). Longer runs: tests/fuzz/run.sh 3600
# The corpus grows in build-fuzz/corpus/<target>; crashes land in build-fuzz/crashes.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-30}"
targets=(event frame certificate names cms_input html_sanitizer trust_state)
dir=build-fuzz
CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DLANTOA_FUZZ=ON -DLANTOA_WERROR=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$dir" -j "$(nproc)" --target fuzz_make_seeds "${targets[@]/#/fuzz_}"
"$dir/tests/fuzz/fuzz_make_seeds" "$dir/seeds"
# cms_input: the real-world feeds ('X') and ninjs examples ('J') of the shared test data.
mkdir -p "$dir/seeds/cms_input"
for f in ../shared/testdata/feeds/*.xml; do { printf X; cat "$f"; } >"$dir/seeds/cms_input/$(basename "$f")"; done
for f in ../shared/testdata/ninjs/*.json; do { printf J; cat "$f"; } >"$dir/seeds/cms_input/$(basename "$f")"; done
# html_sanitizer: the same feeds (HTML inside) and a few XSS vectors.
mkdir -p "$dir/seeds/html_sanitizer"
cp ../shared/testdata/feeds/*.xml "$dir/seeds/html_sanitizer/"
printf '%s' '<p>Tin <a href="jav&#x09;ascript:alert(1)">x</a><img src=x onerror=alert(1)><svg onload=alert(1)></p>' \
  >"$dir/seeds/html_sanitizer/xss.html"
mkdir -p "$dir/crashes"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
summary=""
for t in "${targets[@]}"; do
  mkdir -p "$dir/corpus/$t" "$dir/seeds/$t"
  log="$dir/fuzz_$t.log"
  echo "==> fuzzing $t for ${seconds}s"
  if "$dir/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$dir/crashes/$t-" -print_final_stats=1 "$dir/corpus/$t" "$dir/seeds/$t" >"$log" 2>&1; then
    result="ok"
  else
    result="FAILED (see $log and $dir/crashes/)"
    status=1
    tail -40 "$log"
  fi
  runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
  summary+="$t: ${runs:-?} executions, $result"$'\n'
done
echo "fuzzing summary:"
printf '%s' "$summary"
exit $status
