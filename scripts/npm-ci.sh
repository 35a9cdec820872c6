#!/usr/bin/env bash
# Installs a JavaScript package's pinned dev dependencies (npm ci, from its
# committed lock file) unless they are there already. Run by ctest before
# the JavaScript and browser tests.
#   npm-ci.sh DIR
# Exit 77 (skipped) where there is no npm.
set -euo pipefail
dir=$1
command -v npm >/dev/null || { echo "heartbeat: npm not found: the JavaScript tests are skipped (install Node.js 20)" >&2; exit 77; }
cd "$dir"
if [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
    exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
