#!/usr/bin/env bash
# Builds and runs the demo, installing missing packages first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh demo
cmake --preset demo >/dev/null
cmake --build --preset demo --target demo
exec build/demo/examples/demo "$@"
