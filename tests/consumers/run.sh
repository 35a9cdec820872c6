#!/usr/bin/env bash
# Proves one way of consuming heartbeat. Run by ctest.
#   run.sh MODE SOURCE_DIR WORK_DIR CXX USE_BOOST_ASIO HAS_REDIS HAS_TLS HAS_WEBSOCKET
# MODE:
#   install     install, then find_package (components redis, tls, websocket
#               where found)
#   readme      the README's two install commands on a machine without
#               Catch2, then find_package and the core consumer (install
#               proves the components); an explicit HEARTBEAT_BUILD_TESTS=ON
#               there must fail
#   components  find_package(... COMPONENTS x) against installs without x
#               must fail and say why
#   pkgconfig   install (to another --prefix), then build with pkg-config
#   subdir      vendored add_subdirectory
#   plain       a plain include path
# HAS_REDIS / HAS_TLS / HAS_WEBSOCKET say whether the calling build made
# heartbeat::redis / heartbeat::tls / heartbeat::websocket: where it did,
# the consumers must get them too.
# Exit status 77 means skipped (no pkg-config).
set -euo pipefail
mode=$1 src=$2 work=$3/$1 cxx=$4 boost=${5:-OFF} has_redis=${6:-OFF} has_tls=${7:-OFF} has_websocket=${8:-OFF}
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"
flags=(-G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Release)
command -v ninja >/dev/null || flags=(-DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Release)
# The library alone: none of its own developer targets (in the calling
# build's flavour, or another: no_dev_targets plus a HEARTBEAT_USE_BOOST_ASIO).
no_dev_targets=(-DHEARTBEAT_BUILD_TESTS=OFF -DHEARTBEAT_BUILD_EXAMPLES=OFF -DHEARTBEAT_BUILD_BENCHMARKS=OFF)
lib_only=("${no_dev_targets[@]}" -DHEARTBEAT_USE_BOOST_ASIO="$boost")
strict=(-std=c++17 -Wall -Wextra -Wpedantic -Werror)

fail() {
    echo "run.sh $mode: $*" >&2
    exit 1
}

# expect_in LOG TEXT: the log says TEXT (fixed string).
expect_in() {
    grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "expected in $1: $2"; }
}

# find_component NAME PREFIX [OPTIONAL [cmake args]]: configures find_component
# for the component NAME names (up to its first -) against PREFIX; its output
# goes to $work/NAME.log, its status is the function's.
find_component() {
    local name=$1 prefix=$2 optional=${3:-OFF}
    shift $(($# < 3 ? $# : 3))
    cmake -S "$here/find_component" -B "$work/$name" "${flags[@]}" -DCMAKE_PREFIX_PATH="$prefix" \
        -DHEARTBEAT_COMPONENT="${name%%-*}" -DHEARTBEAT_COMPONENT_OPTIONAL="$optional" "$@" \
        >"$work/$name.log" 2>&1
}

# must_refuse NAME PREFIX MESSAGE [cmake args]: asking PREFIX for the
# component (NAME up to its first '-') fails and names MESSAGE.
must_refuse() {
    local name=$1 prefix=$2 message=$3
    shift 3
    if find_component "$name" "$prefix" OFF "$@"; then
        cat "$work/$name.log" >&2
        fail "find_package(heartbeat COMPONENTS ${name%%-*}) succeeded against $prefix"
    fi
    expect_in "$work/$name.log" "$message"
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
    # The core consumer only: install mode builds the components' (a
    # WebSocket consumer alone takes half a minute to compile).
    cmake --build "$work/app" --target consumer
    # Asking for the tests without Catch2 stops the configuration.
    if CXX="$cxx" cmake -S "$src" -B "$work/lib-tests" "${readme[@]}" -DHEARTBEAT_BUILD_TESTS=ON \
        >"$work/lib-tests.log" 2>&1; then
        cat "$work/lib-tests.log" >&2
        fail "HEARTBEAT_BUILD_TESTS=ON without Catch2 configured"
    fi
    expect_in "$work/lib-tests.log" "HEARTBEAT_BUILD_TESTS is ON but Catch2 v2 was not found"
    ;;
components)
    # Left out on purpose.
    cmake -S "$src" -B "$work/lib-off" "${flags[@]}" "${lib_only[@]}" -DHEARTBEAT_WITH_REDIS=OFF \
        -DHEARTBEAT_WITH_TLS=OFF -DHEARTBEAT_WITH_WEBSOCKET=OFF -DCMAKE_INSTALL_PREFIX="$work/prefix-off" >/dev/null
    cmake --install "$work/lib-off" >/dev/null
    for c in Redis:redis Tls:tls Websocket:websocket; do
        for f in "share/heartbeat/cmake/heartbeat${c%%:*}Targets.cmake" "share/pkgconfig/heartbeat-${c#*:}.pc"; do
            [ ! -e "$work/prefix-off/$f" ] || fail "$f installed although its component is OFF"
        done
    done
    must_refuse redis-off "$work/prefix-off" \
        "heartbeat: component redis was not installed: heartbeat was configured with -DHEARTBEAT_WITH_REDIS=OFF"
    must_refuse tls-off "$work/prefix-off" \
        "heartbeat: component tls was not installed: heartbeat was configured with -DHEARTBEAT_WITH_TLS=OFF"
    find_component redis-optional "$work/prefix-off" ON || { cat "$work/redis-optional.log" >&2; fail "OPTIONAL_COMPONENTS redis failed"; }
    expect_in "$work/redis-optional.log" "heartbeat found without its optional redis"
    must_refuse nonesuch-off "$work/prefix-off" "heartbeat: there is no component nonesuch (there are: redis, tls, websocket)"

    # AUTO on a machine without hiredis or OpenSSL, and with standalone Asio
    # whatever the calling build's flavour (every profile of
    # scripts/install-deps.sh has it), so that heartbeat::websocket cannot
    # exist: both of its refusals are proven without a third install.
    cmake -S "$src" -B "$work/lib-auto" "${flags[@]}" "${no_dev_targets[@]}" -DHEARTBEAT_USE_BOOST_ASIO=OFF \
        -DCMAKE_DISABLE_FIND_PACKAGE_Hiredis=ON -DCMAKE_DISABLE_FIND_PACKAGE_OpenSSL=ON \
        -DCMAKE_INSTALL_PREFIX="$work/prefix-auto" >/dev/null
    cmake --install "$work/lib-auto" >/dev/null
    must_refuse redis-auto "$work/prefix-auto" \
        "heartbeat: component redis was not installed: hiredis was not found when heartbeat was built"
    must_refuse tls-auto "$work/prefix-auto" \
        "heartbeat: component tls was not installed: OpenSSL was not found when heartbeat was built"
    standalone_refusal="heartbeat: component websocket was not installed: heartbeat was built with standalone Asio, \
and heartbeat::websocket needs Boost.Beast, which runs on Boost.Asio only \
(reconfigure heartbeat with -DHEARTBEAT_USE_BOOST_ASIO=ON and install it again)"
    must_refuse websocket-auto "$work/prefix-auto" "$standalone_refusal"
    # Insisting on it with standalone Asio stops heartbeat's own configuration
    # (CMake wraps that message: one line of it).
    if cmake -S "$src" -B "$work/lib-websocket-on" "${flags[@]}" "${no_dev_targets[@]}" -DHEARTBEAT_USE_BOOST_ASIO=OFF \
        -DHEARTBEAT_WITH_WEBSOCKET=ON >"$work/lib-websocket-on.log" 2>&1; then
        cat "$work/lib-websocket-on.log" >&2
        fail "HEARTBEAT_WITH_WEBSOCKET=ON configured with standalone Asio"
    fi
    expect_in "$work/lib-websocket-on.log" "heartbeat: HEARTBEAT_WITH_WEBSOCKET=ON needs HEARTBEAT_USE_BOOST_ASIO=ON"
    # prefix-off is in the calling build's flavour: a Boost.Asio one says
    # the component was switched off; a standalone one gives the deeper reason.
    if [ "$boost" = ON ]; then
        must_refuse websocket-off "$work/prefix-off" \
            "heartbeat: component websocket was not installed: heartbeat was configured with -DHEARTBEAT_WITH_WEBSOCKET=OFF (configure heartbeat with -DHEARTBEAT_WITH_WEBSOCKET=ON and install it again)"
    else
        must_refuse websocket-off "$work/prefix-off" "$standalone_refusal"
    fi

    # Installed, but the dependency has gone since (hidden from the consumer).
    # (Beast comes with Boost's headers, which the package needs anyway:
    # websocket has no "gone since" case of its own to hide.)
    if [ "$has_redis" = ON ] || [ "$has_tls" = ON ] || [ "$has_websocket" = ON ]; then
        cmake -S "$src" -B "$work/lib-all" "${flags[@]}" "${lib_only[@]}" -DHEARTBEAT_WITH_REDIS="$has_redis" \
            -DHEARTBEAT_WITH_TLS="$has_tls" -DHEARTBEAT_WITH_WEBSOCKET="$has_websocket" \
            -DCMAKE_INSTALL_PREFIX="$work/prefix-all" >/dev/null
        cmake --install "$work/lib-all" >/dev/null
        if [ "$has_redis" = ON ]; then
            find_component redis-all "$work/prefix-all" || { cat "$work/redis-all.log" >&2; fail "COMPONENTS redis failed"; }
            must_refuse redis-gone "$work/prefix-all" \
                "heartbeat: component redis was installed but hiredis is not found now" \
                -DCMAKE_DISABLE_FIND_PACKAGE_Hiredis=ON
        fi
        if [ "$has_tls" = ON ]; then
            find_component tls-all "$work/prefix-all" || { cat "$work/tls-all.log" >&2; fail "COMPONENTS tls failed"; }
            must_refuse tls-gone "$work/prefix-all" \
                "heartbeat: component tls was installed but OpenSSL is not found now" \
                -DCMAKE_DISABLE_FIND_PACKAGE_OpenSSL=ON
        fi
        if [ "$has_websocket" = ON ]; then
            find_component websocket-all "$work/prefix-all" ||
                { cat "$work/websocket-all.log" >&2; fail "COMPONENTS websocket failed"; }
        fi
    fi
    cat "$work"/*-off.log "$work"/*-auto.log
    echo "components: every refusal names its reason"
    exit 0
    ;;
pkgconfig)
    command -v pkg-config >/dev/null || { echo "pkg-config not found: skipped"; exit 77; }
    # Installed with --prefix elsewhere than CMAKE_INSTALL_PREFIX: the .pc
    # files must point at where they are, not where the build expected.
    cmake -S "$src" -B "$work/lib" "${flags[@]}" "${lib_only[@]}" -DHEARTBEAT_WITH_REDIS="$has_redis" \
        -DHEARTBEAT_WITH_TLS="$has_tls" -DHEARTBEAT_WITH_WEBSOCKET="$has_websocket" -DCMAKE_INSTALL_PREFIX="$work/unused"
    cmake --install "$work/lib" --prefix "$work/prefix"
    export PKG_CONFIG_PATH="$work/prefix/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    mkdir -p "$work/app"
    pc_build() { # pc_build PROGRAM MODULE
        pkg-config --validate "$2"
        local pc
        pc=$(pkg-config --cflags --libs "$2")
        echo "$2: $pc"
        # shellcheck disable=SC2086 # the flags are words
        "$cxx" "${strict[@]}" "$here/$1.cpp" -o "$work/app/$1" $pc
    }
    pc_build consumer heartbeat
    case $(pkg-config --cflags heartbeat) in
    *"-I$work/"*"/include"*) ;;
    *) fail "heartbeat.pc does not point at $work/prefix/include" ;;
    esac
    for c in redis tls websocket; do
        pc=$work/prefix/share/pkgconfig/heartbeat-$c.pc
        var=has_$c
        if [ "${!var}" = ON ]; then
            [ -f "$pc" ] || fail "heartbeat-$c.pc was not installed"
            pc_build "consumer_$c" "heartbeat-$c"
        else
            [ ! -e "$pc" ] || fail "heartbeat-$c.pc installed without its component"
        fi
    done
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
    "$cxx" "${strict[@]}" "${defs[@]}" -I "$src/include" \
        "$here/consumer.cpp" -o "$work/app/consumer" -pthread
    ;;
*)
    echo "unknown mode $mode" >&2
    exit 2
    ;;
esac
"$work/app/consumer"
# The optional components, wherever the build made them. Where the calling
# build had one, a CMake consumer must have found it too.
for c in redis tls websocket; do
    var=has_$c
    if [ -x "$work/app/consumer_$c" ]; then
        "$work/app/consumer_$c"
    elif [ "${!var}" = ON ] && [ "$mode" != plain ] && [ "$mode" != readme ]; then
        fail "heartbeat::$c was built here but the consumer did not get it"
    fi
done
