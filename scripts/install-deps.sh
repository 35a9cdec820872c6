#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages heartbeat needs, if any are missing.
#   install-deps.sh demo   compiler, CMake, Ninja, standalone Asio
#   install-deps.sh cluster  demo + hiredis and redis-server (heartbeat::redis, the cluster demo)
#   install-deps.sh tls    demo + OpenSSL (headers for heartbeat::tls, the openssl tool for a
#                            throwaway certificate: scripts/tls-demo.sh)
#   install-deps.sh test   + Catch2 (v2), OpenSSL (the TLS tests and examples), Google Benchmark,
#                            hiredis and redis-server (the cluster tests), make and
#                            pkg-config (the consumption tests: README's install commands
#                            use CMake's default generator; the pkg-config consumer)
#   install-deps.sh ci     + clang, Boost (for the Boost.Asio build), ZeroMQ (the rival),
#                            and browser's packages
#   install-deps.sh websocket  demo + Boost (Beast: heartbeat::websocket, scripts/websocket-demo.sh)
#   install-deps.sh browser  demo + Chromium and Node.js with npm (tests/browser: headless
#                            Chromium driven by puppeteer-core, which npm installs there)
#   install-deps.sh bench  + ZeroMQ (the load harness's rival), Python 3 (plots)
set -euo pipefail
profile=${1:-test}

packages=(g++ cmake ninja-build libasio-dev)
case $profile in
demo) ;;
cluster) packages+=(libhiredis-dev redis-server) ;;
tls) packages+=(libssl-dev openssl) ;;
test) packages+=(catch2 libssl-dev openssl libbenchmark-dev libhiredis-dev redis-server make pkg-config) ;;
ci) packages+=(catch2 libssl-dev openssl libbenchmark-dev libhiredis-dev redis-server make pkg-config clang libclang-rt-14-dev
        libboost-dev libzmq3-dev chromium nodejs) ;;
websocket) packages+=(libboost-dev) ;;
browser) packages+=(libboost-dev chromium nodejs) ;;
bench) packages+=(catch2 libssl-dev libbenchmark-dev libzmq3-dev pkg-config python3) ;;
*) echo "usage: $0 demo|cluster|tls|test|ci|websocket|browser|bench" >&2; exit 2 ;;
esac
# Debian ships npm apart from nodejs; NodeSource's nodejs package has it
# (and conflicts with Debian's npm), so ask for it only where it is missing.
case $profile in
ci | browser) command -v npm >/dev/null || packages+=(npm) ;;
esac

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
    echo "heartbeat: missing packages (${missing[*]}) and no apt-get; install them by hand" >&2
    exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "heartbeat: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
fi
echo "heartbeat: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "heartbeat: could not install ${missing[*]}" >&2
    exit 1
fi
rm -f "$log"
