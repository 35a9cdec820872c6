#!/usr/bin/env bash
# Compiles FILE, which must fail, and checks that the diagnostic is one
# error and contains MESSAGE (a static_assert's text): misuse gets one
# readable line, not a page of template errors.
#   expect_error.sh CXX INCLUDE_DIR FILE MESSAGE [FLAGS...]
set -uo pipefail
cxx=$1 include=$2 file=$3 message=$4
shift 4
out=$("$cxx" -std=c++17 -fsyntax-only -I "$include" "$@" "$file" 2>&1)
rc=$?
if [ $rc -eq 0 ]; then
    echo "expect_error: $file compiled, but it must not" >&2
    exit 1
fi
if ! grep -qF -- "$message" <<<"$out"; then
    echo "$out" | head -40
    echo "expect_error: the diagnostic does not say: $message" >&2
    exit 1
fi
errors=$(grep -c 'error:' <<<"$out")
if [ "$errors" -ne 1 ]; then
    echo "$out" | grep 'error:' | head -20
    echo "expect_error: $errors errors, not one" >&2
    exit 1
fi
echo "expect_error: $file fails with: $message"
