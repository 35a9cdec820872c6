#!/usr/bin/env bash
# Proves one way of consuming heartbeat. Run by ctest.
#   run.sh MODE SOURCE_DIR WORK_DIR CXX USE_BOOST_ASIO
# MODE:
#   install     install, then find_package
#   readme      the README's two install commands on a machine without
#               Catch2, then find_package; an explicit HEARTBEAT_BUILD_TESTS=ON
#               there must fail
#   subdir      vendored add_subdirectory
#   plain       a plain include path
set -euo pipefail
mode=$1 src=$2 work=$3/$1 cxx=$4 boost=${5:-OFF}
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"
flags=(-G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Release)
command -v ninja >/dev/null || flags=(-DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Release)

fail() {
    echo "run.sh $mode: $*" >&2
    exit 1
}

# expect_in LOG TEXT: the log says TEXT (fixed string).
expect_in() {
    grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "expected in $1: $2"; }
}

case $mode in
install)
    cmake -S "$src" -B "$work/lib" "${flags[@]}" -DHEARTBEAT_BUILD_TESTS=OFF \
        -DHEARTBEAT_BUILD_EXAMPLES=OFF -DHEARTBEAT_USE_BOOST_ASIO="$boost" \
        -DCMAKE_INSTALL_PREFIX="$work/prefix"
    cmake --install "$work/lib"
    test -f "$work/prefix/share/heartbeat/cmake/heartbeatConfigVersion.cmake"
    cmake -S "$here/find_package" -B "$work/app" "${flags[@]}" \
        -DCMAKE_PREFIX_PATH="$work/prefix"
    cmake --build "$work/app"
    ;;
readme)
    # README's commands, word for word (CMake's default generator, no
    # HEARTBEAT_BUILD_TESTS), where find_package(Catch2) finds nothing.
    # The Boost build adds the README's flavour switch.
    readme=(-DCMAKE_INSTALL_PREFIX="$work/prefix" -DCMAKE_DISABLE_FIND_PACKAGE_Catch2=ON)
    [ "$boost" = ON ] && readme+=(-DHEARTBEAT_USE_BOOST_ASIO=ON)
    CXX="$cxx" cmake -S "$src" -B "$work/lib" "${readme[@]}" >"$work/lib.log" 2>&1 ||
        { cat "$work/lib.log" >&2; fail "the README's configure command failed"; }
    cat "$work/lib.log"
    expect_in "$work/lib.log" "heartbeat: tests skipped: Catch2 v2 was not found"
    expect_in "$work/lib.log" "-DHEARTBEAT_BUILD_TESTS=ON"
    expect_in "$work/lib/CMakeCache.txt" "HEARTBEAT_BUILD_TESTS:BOOL=OFF"
    cmake --install "$work/lib"
    test -f "$work/prefix/share/heartbeat/cmake/heartbeatConfig.cmake"
    cmake -S "$here/find_package" -B "$work/app" "${flags[@]}" -DCMAKE_PREFIX_PATH="$work/prefix"
    cmake --build "$work/app"
    # Asking for the tests without Catch2 stops the configuration.
    if CXX="$cxx" cmake -S "$src" -B "$work/lib-tests" "${readme[@]}" -DHEARTBEAT_BUILD_TESTS=ON \
        >"$work/lib-tests.log" 2>&1; then
        cat "$work/lib-tests.log" >&2
        fail "HEARTBEAT_BUILD_TESTS=ON without Catch2 configured"
    fi
    expect_in "$work/lib-tests.log" "HEARTBEAT_BUILD_TESTS is ON but Catch2 v2 was not found"
    ;;
subdir)
    cmake -S "$here/add_subdirectory" -B "$work/app" "${flags[@]}" \
        -DHEARTBEAT_SOURCE_DIR="$src" -DHEARTBEAT_USE_BOOST_ASIO="$boost"
    cmake --build "$work/app"
    ;;
plain)
    defs=()
    [ "$boost" = ON ] && defs=(-DHEARTBEAT_USE_BOOST_ASIO)
    mkdir -p "$work/app"
    "$cxx" -std=c++17 -Wall -Wextra -Wpedantic -Werror "${defs[@]}" -I "$src/include" \
        "$here/consumer.cpp" -o "$work/app/consumer" -pthread
    ;;
*)
    echo "unknown mode $mode" >&2
    exit 2
    ;;
esac
"$work/app/consumer"
# The cluster component, wherever the build made it (hiredis present).
if [ -x "$work/app/consumer_redis" ]; then
    "$work/app/consumer_redis"
fi
