#!/usr/bin/env bash
# Lantoa's one entry point for set-up, build, demo and tests.
#
#   ./lantoa.sh demo [--keep]     install what is missing, build what the demo runs, run the national
#                                 demo network (the main job; build output in build/demo-build.log)
#   ./lantoa.sh test              install what is missing, build everything, run the whole test suite
#   ./lantoa.sh test --sanitize   the same with AddressSanitizer + UndefinedBehaviorSanitizer
#   ./lantoa.sh fuzz [SECONDS]     libFuzzer targets with ASan+UBSan, SECONDS each (default 30)
#   ./lantoa.sh package           Debian packages (Release, /usr) into build-pkg/packages/
#   ./lantoa.sh build [--sanitize]   build everything: programs, tests, benchmarks
#   ./lantoa.sh deps              only install the missing Debian packages
#
# Everything comes from Debian packages; nothing is downloaded at build time.
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(
  cmake ninja-build g++ pkg-config
  protobuf-compiler libprotobuf-dev
  libzmq3-dev cppzmq-dev
  libsodium-dev liblmdb-dev libssl-dev
  libspdlog-dev libgtest-dev
  nlohmann-json3-dev libcli11-dev libtomlplusplus-dev libcpp-httplib-dev
  libcurl4-openssl-dev libpugixml-dev libxml2-dev libicu-dev
  libnats-dev librabbitmq-dev
  openssl curl clang libclang-rt-14-dev python3-jsonschema
  dpkg-dev fakeroot file lintian systemd
  prometheus  # promtool: the broker's /metrics is checked with "promtool check metrics" (tests/broker/metrics_test.cc)
  chromium    # the broker's dashboard is tested in headless Chromium (tests/broker/dashboard_test.cc)
  python3     # the national demo's stand-in for a province's line (examples/national-network/link_proxy.py)
)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing missing Debian packages: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

BUILD_DIR=build
CMAKE_ARGS=()
parse_flags() {
  for arg in "$@"; do
    case "$arg" in
      --sanitize) BUILD_DIR=build-sanitize; CMAKE_ARGS+=(-DLANTOA_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug) ;;
      *) echo "unknown option: $arg (see the top of lantoa.sh)" >&2; exit 2 ;;
    esac
  done
}

build() {
  deps
  say "configuring and building in $BUILD_DIR/"
  cmake -S . -B "$BUILD_DIR" -G Ninja "${CMAKE_ARGS[@]}" >/dev/null
  cmake --build "$BUILD_DIR" -j "$(nproc)"
}

# What the demo runs (lantoa-quickstart, then examples/national-network/run.sh:
# the broker, a node and a stand-in CMS per portal, the `lantoa` command line).
DEMO_TARGETS=(lantoa-quickstart lantoa-broker lantoa-node lantoa lantoa-demo-cms)

# Runs a command with its output in LOG; on a terminal, ninja's "[n/N]" is
# shown as one line that counts up. Returns the command's exit status.
run_logged() {
  local log=$1; shift
  if [ -t 2 ]; then
    "$@" 2>&1 | tee -a "$log" | while IFS= read -r line; do
      [[ "$line" =~ ^\[([0-9]+)/([0-9]+)\] ]] && printf '\r    step %s of %s' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" >&2
    done
    local status=${PIPESTATUS[0]}
    printf '\r\033[K' >&2
    return "$status"
  fi
  "$@" >>"$log" 2>&1
}

# Builds only TARGETS, quietly: the output goes to $BUILD_DIR/demo-build.log;
# on failure its end is shown and the script stops.
build_quietly() {
  deps
  mkdir -p "$BUILD_DIR"
  local log="$BUILD_DIR/demo-build.log" started=$SECONDS
  : >"$log"
  say "building what the demo runs (log: $log)"
  if ! run_logged "$log" cmake -S . -B "$BUILD_DIR" -G Ninja "${CMAKE_ARGS[@]}" ||
     ! run_logged "$log" cmake --build "$BUILD_DIR" -j "$(nproc)" --target "$@"; then
    echo "--- the last lines of $log:" >&2
    tail -n 40 "$log" >&2
    echo "--- the build failed; the whole output is in $PWD/$log" >&2
    exit 1
  fi
  say "built in $((SECONDS - started)) s"
}

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  deps) deps ;;
  build) parse_flags "$@"; build ;;
  test)
    parse_flags "$@"; build
    say "running the test suite"
    ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)" --timeout 300
    ;;
  fuzz)
    deps
    tests/fuzz/run.sh "${1:-30}"
    ;;
  package)  # the Debian packages (deploy/CMakeLists.txt); tests/package/run.sh installs and checks them
    deps
    BUILD_DIR=build-pkg
    say "configuring a Release build for /usr in $BUILD_DIR/ (Debian's build flags, from dpkg-buildflags)"
    export DEB_BUILD_MAINT_OPTIONS=hardening=+all
    cppflags="$(dpkg-buildflags --get CPPFLAGS)"
    ldflags="$(dpkg-buildflags --get LDFLAGS)"
    # Tests, benchmarks and -Werror off: a package build compiles only what it ships,
    # and distribution flags (fortify) must not turn a new warning into no package.
    # Release (NDEBUG) optimised as Debian builds its packages: dpkg-buildflags' -O2, not -O3.
    cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
      -DLANTOA_BUILD_TESTS=OFF -DLANTOA_WERROR=OFF -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON \
      -DCMAKE_C_FLAGS_RELEASE=-DNDEBUG -DCMAKE_CXX_FLAGS_RELEASE=-DNDEBUG \
      -DCMAKE_C_FLAGS="$(dpkg-buildflags --get CFLAGS) $cppflags" \
      -DCMAKE_CXX_FLAGS="$(dpkg-buildflags --get CXXFLAGS) $cppflags" \
      -DCMAKE_EXE_LINKER_FLAGS="$ldflags" -DCMAKE_SHARED_LINKER_FLAGS="$ldflags" >/dev/null
    cmake --build "$BUILD_DIR" -j "$(nproc)" --target lantoa_sdk lantoa-broker lantoa-node lantoa
    say "making the packages (cpack -G DEB)"
    rm -rf "$BUILD_DIR/packages"
    (cd "$BUILD_DIR" && cpack -G DEB --config CPackConfig.cmake >cpack.log) || { cat "$BUILD_DIR/cpack.log" >&2; exit 1; }
    ls -1 "$BUILD_DIR"/packages/*.deb
    say "the packages are in $PWD/$BUILD_DIR/packages/ (install and check them: tests/package/run.sh $BUILD_DIR/packages)"
    ;;
  demo)  # options go to examples/national-network/run.sh: --keep, --work DIR
    build_quietly "${DEMO_TARGETS[@]}"
    say "running the demo"
    article=../shared/testdata/articles/baochinhphu-2023-08-12-hoi-nghi-cong-ttdt.txt
    if [ -f "$article" ]; then
      "$BUILD_DIR/examples/lantoa-quickstart" --article "$article"
    else
      "$BUILD_DIR/examples/lantoa-quickstart"
    fi
    say "running the national demo network on loopback (a broker, a lantoa-node and a stand-in CMS per portal)"
    examples/national-network/run.sh "$BUILD_DIR" "$@"
    ;;
  *)
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
    [ -z "$cmd" ] && exit 2 || { echo "unknown command: $cmd" >&2; exit 2; }
    ;;
esac
