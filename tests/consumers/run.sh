#!/usr/bin/env bash
# Proves one way of consuming heartbeat: install + find_package, vendored
# add_subdirectory, or a plain include path. Run by ctest.
#   run.sh MODE SOURCE_DIR WORK_DIR CXX USE_BOOST_ASIO
set -euo pipefail
mode=$1 src=$2 work=$3/$1 cxx=$4 boost=${5:-OFF}
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"
flags=(-G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Release)
command -v ninja >/dev/null || flags=(-DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Release)

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
