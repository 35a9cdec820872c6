#!/usr/bin/env bash
# Builds heartbeat and runs its whole test suite, installing missing
# packages first.
#   scripts/test.sh              the "ci" preset: Debug, -Werror, all tests
#   scripts/test.sh asan tsan    any presets from CMakePresets.json
set -euo pipefail
cd "$(dirname "$0")/.."
presets=("$@")
[ ${#presets[@]} -eq 0 ] && presets=(ci)

profile=test
for p in "${presets[@]}"; do
    case $p in clang | boost | fuzz) profile=ci ;; esac
done
scripts/install-deps.sh "$profile"

jobs=$(nproc 2>/dev/null || echo 2)
for p in "${presets[@]}"; do
    echo "=== heartbeat: preset $p"
    cmake --preset "$p"
    cmake --build --preset "$p" -j "$jobs"
    ctest --preset "$p" -j "$jobs"
done
