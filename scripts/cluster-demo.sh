#!/usr/bin/env bash
# Cluster presence in about 10 seconds: a private redis-server on a loopback
# port, two gateways (A and B), five clients, and a query tool that prints
# every cluster-wide event as it happens.
#
#   t=0   alice, bob and carol beat into A; dave and erin into B
#   t=2   carol moves to B (connects there, then leaves A): no offline
#   t=4   gateway A is killed with SIGKILL: its 2 s lease runs out and B
#         marks alice and bob offline (gateway_lost)
#   t=8   B shuts down cleanly: its peers go offline (shutdown)
#
# It ends by checking the event stream against this script.
#
#   scripts/cluster-demo.sh               installs what is missing, builds, runs
#   scripts/cluster-demo.sh --bin DIR     runs the programs already built in DIR
set -euo pipefail
cd "$(dirname "$0")/.."

bin=
if [ "${1:-}" = --bin ]; then
    bin=$2
else
    scripts/install-deps.sh cluster
    cmake --preset demo -DHEARTBEAT_WITH_REDIS=ON >/dev/null
    cmake --build --preset demo --target cluster_gateway cluster_query cluster_client >/dev/null
    bin=build/demo/examples
fi
# A private redis-server: run again under scripts/with-redis.sh.
if [ -z "${HEARTBEAT_REDIS_PORT:-}" ]; then
    exec scripts/with-redis.sh "$(pwd)/scripts/cluster-demo.sh" --bin "$bin"
fi
port=$HEARTBEAT_REDIS_PORT

work=$(mktemp -d)
pids=()
# Kills one of the processes this script started, by PID, without the shell
# announcing it. Bash reports a background job that died of a signal
# ("line 96: 26328 Killed ...") at its next notification point, which can
# come before a `wait` whose stderr is redirected; so the job is taken out
# of the job table first (disown: nothing left to report), then killed, and
# the script waits, bounded, until the process is gone.
kill_quietly() { # pid
    disown "$1" 2>/dev/null || true
    kill -9 "$1" 2>/dev/null || return 0
    for _ in $(seq 100); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.05
    done
}
cleanup() {
    local rc=$?
    for pid in "${pids[@]}"; do
        kill_quietly "$pid"
    done
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*"; }
say "redis-server on 127.0.0.1:$port"

gateway() { # name
    "$bin/cluster_gateway" --name "$1" --redis-port "$port" --interval-ms 500 \
        --lease-ms 2000 --refresh-ms 500 >"$work/$1.log" 2>&1 &
    pids+=($!)
    eval "gw_$1=$!"
    for _ in $(seq 50); do
        grep -q '^listening' "$work/$1.log" 2>/dev/null && break
        sleep 0.1
    done
    eval "port_$1=$(awk '/^listening/ {print $2}' "$work/$1.log")"
}
client() { # gateway id
    local p
    eval "p=\$port_$1"
    "$bin/cluster_client" --port "$p" --id "$2" --interval-ms 500 &
    pids+=($!)
    eval "client_$2_$1=$!"
}
query() { "$bin/cluster_query" --redis-port "$port" "$@"; }

gateway A
gateway B
say "gateways A (port $port_A) and B (port $port_B); the event stream:"
# $! is the query tool itself (tee and sed end with its output).
"$bin/cluster_query" --redis-port "$port" --watch 60 > >(tee "$work/events.log" | sed -u 's/^/   [event stream] /') &
pids+=($!)
sleep 0.5

client A alice
client A bob
client A carol
client B dave
client B erin
sleep 1.5
say "who is online (cluster_query)"
query

say "carol moves from A to B"
client B carol
sleep 1
kill -TERM "$client_carol_A"
sleep 1
query carol

say "gateway A is killed (SIGKILL); B reaps it once its 2 s lease runs out"
kill_quietly "$gw_A"
sleep 3.5
query

say "gateway B shuts down cleanly"
kill -TERM "$gw_B"
sleep 1
query
sleep 0.5

# The script above, checked against what the event stream saw.
expect() { # pattern description
    grep -Eq "$1" "$work/events.log" || { echo "cluster demo: expected $2" >&2; exit 1; }
}
expect 'moved +carol +on B \(from A\)' "carol to move from A to B"
expect 'offline +alice +on A \(gateway_lost\)' "alice offline with gateway_lost"
expect 'offline +bob +on A \(gateway_lost\)' "bob offline with gateway_lost"
expect 'offline +dave +on B \(shutdown\)' "dave offline with shutdown"
if grep -E 'offline +carol' "$work/events.log" | grep -vq '(shutdown)'; then
    echo "cluster demo: carol went offline while moving" >&2
    exit 1
fi
say "demo finished as scripted"
