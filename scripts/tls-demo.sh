#!/usr/bin/env bash
# The TLS examples together: makes a throwaway certificate for localhost
# (openssl, in a temporary directory; nothing is kept), starts tls_server,
# runs a verifying tls_client against it for two seconds, then a client
# that expects another server name (its certificate check must fail), and
# checks what both printed. The test "example: tls" runs it.
#
#   scripts/tls-demo.sh                installs, builds, runs
#   scripts/tls-demo.sh --bin DIR      uses tls_server and tls_client from DIR
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = --bin ]; then
    bin=$2
else
    scripts/install-deps.sh tls
    cmake --preset demo -DHEARTBEAT_WITH_TLS=ON >/dev/null
    cmake --build --preset demo --target tls_server tls_client
    bin=build/demo/examples
fi

work=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$work/server.key" -out "$work/server.pem" 2>/dev/null

"$bin/tls_server" --cert "$work/server.pem" --key "$work/server.key" --port 0 --seconds 30 >"$work/server.log" &
server_pid=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's/^server: listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$work/server.log")
    [ -n "$port" ] && break
    sleep 0.05
done
[ -n "$port" ] || { echo "tls demo: the server did not start" >&2; cat "$work/server.log" >&2; exit 1; }

# A client that verifies the server (the certificate names 127.0.0.1).
"$bin/tls_client" --ca "$work/server.pem" --port "$port" --id alice --seconds 2 | tee "$work/alice.log"
# A client that expects another name: every attempt fails verification.
"$bin/tls_client" --ca "$work/server.pem" --port "$port" --id mallory \
    --server-name elsewhere.example --seconds 1 | tee "$work/mallory.log"

kill -TERM "$server_pid"
wait "$server_pid"
server_pid=
cat "$work/server.log"

fail() { echo "tls demo: $*" >&2; exit 1; }
grep -q '^client: connected over TLS$' "$work/alice.log" || fail "alice did not connect"
grep -q '^client: got "echo: hello over TLS"$' "$work/alice.log" || fail "alice got no echo"
grep -q '^client: attempt 1 failed: hostname mismatch$' "$work/mallory.log" || fail "mallory's check did not fail"
grep -q '^client: connected' "$work/mallory.log" && fail "mallory connected to a server with the wrong name"
grep -q '^server: alice online$' "$work/server.log" || fail "the server did not see alice"
grep -q '^server: alice offline (left)$' "$work/server.log" || fail "alice did not leave"
grep -q '^server: refused 127.0.0.1:[0-9]*: ' "$work/server.log" || fail "the server reported no refusal"
grep -q 'mallory' "$work/server.log" && fail "mallory got as far as HELLO"
echo "tls demo: as scripted"
