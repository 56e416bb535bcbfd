#!/usr/bin/env bash
# Runs every test: C unit tests (ASan+UBSan), then the integration suite against the release
# build and against the ASan+UBSan build. Ends with one summary line: "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
total_pass=0 total_fail=0 status=0

count() { # adds the "N passed" / "N failed" numbers of a pytest or unit summary line
    local line=$1 n
    for n in $(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+'); do
        total_pass=$((total_pass + n))
    done
    for n in $(grep -oE '[0-9]+ (failed|errors?)' <<<"$line" | grep -oE '[0-9]+'); do
        total_fail=$((total_fail + n))
    done
}

step() { # name, command...: runs it, echoes its output, counts its last summary line
    local name=$1; shift
    echo "=== $name"
    local log; log=$(mktemp)
    "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    count "$(grep -E '[0-9]+ (passed|failed)' "$log" | tail -1)"
    if [ "$rc" -ne 0 ]; then
        status=1
        grep -qE '[0-9]+ (failed|errors?)' "$log" || total_fail=$((total_fail + 1))
    fi
    rm -f "$log"
}

make -s unit >/dev/null 2>&1 || true # build the unit binaries; failures show up below
step "unit tests (ASan+UBSan)" tests/run-unit.sh build/unit/test_*
step "integration (release build)" $PY -m pytest -q -p no:cacheprovider tests/integration
# test_s3_harness.py checks the S3 test server itself, not Panda: once is enough.
step "integration (ASan+UBSan build)" env PANDA_SERVER="$PWD/bin/panda-server-asan" \
    PANDA_CLI="$PWD/bin/panda-cli-asan" $PY -m pytest -q -p no:cacheprovider tests/integration \
    --ignore=tests/integration/test_s3_harness.py
# The core suites again under the other fsync policies (the WAL's own crash and fault tests and
# the snapshot crash test choose their policy themselves; the Parquet file-format, snapshot
# priority and S3 suites do not depend on it).
for policy in everysec no; do
    step "integration (release build, fsync $policy)" env PANDA_FSYNC=$policy \
        $PY -m pytest -q -p no:cacheprovider tests/integration \
        --ignore=tests/integration/test_wal_crash.py --ignore=tests/integration/test_wal_recovery.py \
        --ignore=tests/integration/test_wal_faults.py --ignore=tests/integration/test_snapshot_crash.py \
        --ignore=tests/integration/test_snapshot_priority.py \
        --ignore=tests/integration/test_parquet_fixtures.py \
        --ignore=tests/integration/test_parquet_read_duckdb.py \
        --ignore=tests/integration/test_parquet_interop.py \
        --ignore=tests/integration/test_s3_harness.py --ignore=tests/integration/test_s3.py
done

echo "$total_pass passed, $total_fail failed"
exit $status
