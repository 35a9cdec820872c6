#!/usr/bin/env bash
# The browser test (ctest "browser: ..."): heartbeat::websocket against
# headless Chromium, in both modes. See browser.test.mjs for the rows.
#
#   tests/browser/run.sh SERVER [JS_DIR]
#
# SERVER is heartbeat_ws_test_server; JS_DIR the JavaScript client (the
# repository's js/, the default). It installs what is missing (Chromium and
# Node.js through scripts/install-deps.sh browser, where it may; puppeteer-core
# with `npm ci` from the committed lock file; no browser is ever downloaded)
# and exits 77, which ctest reports as skipped, where no browser can start.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
server=$(realpath "${1:?usage: run.sh SERVER [JS_DIR]}")
js=$(realpath "${2:-$here/../../js}")
chromium=${CHROMIUM:-/usr/bin/chromium}

skip() {
    echo "browser test: SKIP: $*" >&2
    exit 77
}

if [ ! -x "$chromium" ] || ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    # Installing needs root (or sudo) and a package mirror; without them, skip.
    if [ "$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null; then
        "$here/../../scripts/install-deps.sh" browser >&2 || skip "could not install Chromium and Node.js (scripts/install-deps.sh browser)"
    fi
    [ -x "$chromium" ] || skip "no Chromium at $chromium (scripts/install-deps.sh browser installs it; CHROMIUM=PATH names another)"
    command -v node >/dev/null && command -v npm >/dev/null || skip "no Node.js and npm"
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || skip "Node.js $(node --version) is older than 20"

if [ ! -d "$here/node_modules/puppeteer-core" ]; then
    # puppeteer-core downloads nothing by itself; the variable makes sure.
    (cd "$here" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >&2) ||
        skip "npm ci failed in tests/browser (no registry reachable?)"
fi

cd "$here"
exec node browser.test.mjs --server "$server" --js "$js" --chromium "$chromium"
