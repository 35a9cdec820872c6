#!/usr/bin/env bash
# Runs a command beside a private redis-server: started on a free loopback
# port in a scratch directory (no persistence), its port in the environment
# as HEARTBEAT_REDIS_PORT, killed by PID when the command ends.
#   scripts/with-redis.sh COMMAND [ARGS...]
set -euo pipefail
redis=$(command -v redis-server || echo /usr/bin/redis-server)
[ -x "$redis" ] || { echo "with-redis: redis-server is not installed (scripts/install-deps.sh cluster)" >&2; exit 1; }

work=$(mktemp -d)
rpid=
cleanup() {
    local rc=$?
    if [ -n "$rpid" ]; then
        kill -9 "$rpid" 2>/dev/null || true
        wait "$rpid" 2>/dev/null || true
    fi
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT

# A free port: try a few until one starts.
for _ in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 20000))
    "$redis" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
    rpid=$!
    for _ in $(seq 100); do
        grep -q "Ready to accept" "$work/redis.log" 2>/dev/null && break
        kill -0 "$rpid" 2>/dev/null || break
        sleep 0.05
    done
    grep -q "Ready to accept" "$work/redis.log" && break
    kill -9 "$rpid" 2>/dev/null || true
    wait "$rpid" 2>/dev/null || true
    rpid=
done
[ -n "$rpid" ] || { echo "with-redis: could not start redis-server" >&2; cat "$work/redis.log" >&2; exit 1; }

export HEARTBEAT_REDIS_PORT=$port
"$@"
