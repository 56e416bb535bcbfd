#!/usr/bin/env bash
# Runs each C unit-test binary (TAP output) and prints a summary line.
set -u
pass=0 fail=0
for t in "$@"; do
    out=$("$t" 2>&1)
    rc=$?
    p=$(grep -c '^ok ' <<<"$out")
    f=$(grep -c '^not ok ' <<<"$out")
    pass=$((pass + p)); fail=$((fail + f))
    if [ $rc -ne 0 ] || [ "$f" -ne 0 ]; then
        echo "FAIL $t (exit $rc)"; grep -A1 '^not ok ' <<<"$out"; tail -5 <<<"$out"
        [ "$f" -eq 0 ] && fail=$((fail + 1))
    else
        echo "ok   $t ($p checks)"
    fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
