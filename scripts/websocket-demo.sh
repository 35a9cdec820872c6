#!/usr/bin/env bash
# The browser chat example (examples/websocket_chat.cpp, examples/web/):
# installs what is missing, builds it (heartbeat::websocket needs the Boost
# build) and runs it; then open the address it prints in a few tabs, some
# with &mode=framed, and close, freeze or leave them.
#
#   scripts/websocket-demo.sh [ARGS...]              installs, builds, runs websocket_chat ARGS
#   scripts/websocket-demo.sh --bin DIR [ARGS...]    runs the websocket_chat already built in DIR
#
# ARGS: --port P (8080), --interval-ms I (1000), --misses N (3), --token T,
# --seconds S (stop after S seconds). tests/browser drives both modes in
# headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = --bin ]; then
    bin=$2
    shift 2
else
    scripts/install-deps.sh websocket
    # The Boost.Asio flavour (Beast), the example alone: no tests, no other
    # component, so nothing else needs installing.
    cmake -S . -B build/websocket-demo -G Ninja -DCMAKE_BUILD_TYPE=Release -DHEARTBEAT_USE_BOOST_ASIO=ON \
        -DHEARTBEAT_WITH_WEBSOCKET=ON -DHEARTBEAT_WITH_REDIS=OFF -DHEARTBEAT_WITH_TLS=OFF \
        -DHEARTBEAT_BUILD_TESTS=OFF -DHEARTBEAT_BUILD_BENCHMARKS=OFF >/dev/null
    cmake --build build/websocket-demo --target websocket_chat
    bin=build/websocket-demo/examples
fi
exec "$bin/websocket_chat" --web examples/web --js js "$@"
