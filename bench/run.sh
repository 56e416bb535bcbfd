#!/usr/bin/env bash
# Panda vs redis-server benchmark harness. See bench/README.md.
#
# Prints a markdown report on stdout (progress goes to stderr) and writes the
# same report to bench/out/latest.md. Numbers are informational only: nothing
# here is asserted by any test.
#
# Sections run in the order given by BENCH_SECTIONS (default
# "throughput memory"). To add one, define a function section_NAME below and
# add NAME to the default list.
# shellcheck disable=SC2119 # start_panda/start_redis take optional extra server args
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$BENCH_DIR/lib.sh"

# ---------------------------------------------------------------- settings

# PANDA_SERVER: a path (relative to the current directory) or a command name.
PANDA_BIN=${PANDA_SERVER:-$ROOT/bin/panda-server}
case $PANDA_BIN in
/*) ;;
*/*) PANDA_BIN="$PWD/$PANDA_BIN" ;;
*) PANDA_BIN=$(command -v "$PANDA_BIN" || printf '%s' "$PANDA_BIN") ;;
esac

if [ "${BENCH_QUICK:-0}" = "1" ]; then
    q_rounds=1 q_p1=5000 q_p16=20000 q_mem=50000
else
    q_rounds=5 q_p1=200000 q_p16=1000000 q_mem=1000000
fi
BENCH_ROUNDS=${BENCH_ROUNDS:-$q_rounds}
BENCH_REQUESTS_P1=${BENCH_REQUESTS_P1:-$q_p1}
BENCH_REQUESTS_P16=${BENCH_REQUESTS_P16:-$q_p16}
BENCH_MEM_KEYS=${BENCH_MEM_KEYS:-$q_mem}
BENCH_SECTIONS=${BENCH_SECTIONS:-throughput memory}
BENCH_CLIENTS=50
BENCH_KEYSPACE=100000
BENCH_RUN_TIMEOUT=${BENCH_RUN_TIMEOUT:-300}
BENCH_TESTS="set get incr mset"
BENCH_PIPELINES="1 16"

for v in BENCH_ROUNDS BENCH_REQUESTS_P1 BENCH_REQUESTS_P16 BENCH_MEM_KEYS BENCH_RUN_TIMEOUT; do
    case ${!v} in
    '' | *[!0-9]* | 0) die "$v must be a positive integer (got '${!v}')" ;;
    esac
done

for tool in redis-server redis-benchmark redis-cli awk timeout; do
    command -v "$tool" >/dev/null || die "$tool not found in PATH"
done
[ -x "$PANDA_BIN" ] || die "panda-server not found or not executable: $PANDA_BIN (build it with make, or set PANDA_SERVER)"

OUT_DIR="$BENCH_DIR/out"
mkdir -p "$OUT_DIR"
BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/panda-bench.XXXXXX")
BENCH_REPORT="$BENCH_TMP/report.md"
: >"$BENCH_REPORT"
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

requests_for() { # PIPELINE -> -n
    if [ "$1" = "1" ]; then printf '%s\n' "$BENCH_REQUESTS_P1"; else printf '%s\n' "$BENCH_REQUESTS_P16"; fi
}

# ---------------------------------------------------------------- sections

section_header() {
    local model panda_ver
    model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
    panda_ver=$(timeout 5 "$PANDA_BIN" --version 2>/dev/null | head -n 1 || true)
    emit "# Panda benchmark"
    emit ""
    emit "- date: $(date '+%Y-%m-%d %H:%M:%S %Z')"
    emit "- machine: $(nproc) CPUs, ${model:-unknown model}, $(uname -sr)"
    emit "- redis: $(redis-server --version)"
    emit "- panda: ${panda_ver:-unknown version} ($PANDA_BIN)"
    emit "- clients and servers share the machine; loopback TCP only"
    emit ""
}

# Sanity check that the server really executes the benchmarked commands
# (redis-benchmark 7.0 aborts a run on an error reply; this says which command
# is at fault). Prints a warning line, or nothing when all replies are right.
check_commands() {
    local name=$1 got problems=""
    got=$(rcli "$name" SET bench:sanity 1 2>&1 || true)
    [ "$got" = "OK" ] || problems+=" SET->'$got'"
    got=$(rcli "$name" GET bench:sanity 2>&1 || true)
    [ "$got" = "1" ] || problems+=" GET->'$got'"
    got=$(rcli "$name" INCR bench:sanity 2>&1 || true)
    [ "$got" = "2" ] || problems+=" INCR->'$got'"
    got=$(rcli "$name" MSET bench:sanity:a 1 bench:sanity:b 2 2>&1 || true)
    [ "$got" = "OK" ] || problems+=" MSET->'$got'"
    rcli "$name" FLUSHALL >/dev/null 2>&1 || true
    if [ -n "$problems" ]; then
        printf '%s\n' "**WARNING: $name gave unexpected replies before the runs:$problems**"
    fi
}

section_throughput() {
    local round pipe test name n row csvname rps p50 p99 key
    local -A label=() vals=() med=()
    local warnings=()

    start_panda
    start_redis
    rcli panda FLUSHALL >/dev/null || true
    rcli redis FLUSHALL >/dev/null || true
    for name in panda redis; do
        row=$(check_commands "$name")
        if [ -n "$row" ]; then warnings+=("$row"); fi
    done

    for round in $(seq 1 "$BENCH_ROUNDS"); do
        for pipe in $BENCH_PIPELINES; do
            n=$(requests_for "$pipe")
            for test in $BENCH_TESTS; do
                for name in panda redis; do
                    key="$test/$pipe/$name"
                    if ! server_alive "$name"; then
                        bench_log "round $round: $name is not running, skipping $test -P $pipe"
                        continue
                    fi
                    bench_log "round $round/$BENCH_ROUNDS: $name $test -P $pipe -n $n"
                    if row=$(run_rb "$name" "$test" "$pipe" "$n"); then
                        IFS=$'\t' read -r csvname rps p50 p99 <<<"$row"
                        label[$test]=$csvname
                        vals[$key/rps]+="$rps "
                        vals[$key/p50]+="$p50 "
                        vals[$key/p99]+="$p99 "
                        bench_log "  -> $rps ops/s, p50 $p50 ms, p99 $p99 ms"
                    fi
                done
            done
        done
    done

    local nfail why
    for name in panda redis; do
        IFS=$'\t' read -r nfail why < <(rb_failures "$name")
        if [ "$nfail" -gt 0 ]; then
            warnings+=("**WARNING: $nfail redis-benchmark run(s) against $name failed; first: $why**")
        fi
        if ! server_alive "$name"; then
            warnings+=("**WARNING: $name exited during the throughput runs; last log line: $(tail -n 1 "${SRV_LOG[$name]}" 2>/dev/null || true)**")
        fi
    done
    stop_server panda
    stop_server redis

    emit "## Throughput and latency"
    emit ""
    emit "redis-benchmark -c $BENCH_CLIENTS -r $BENCH_KEYSPACE -P {1,16} -t <test> --csv;" \
        "-n $BENCH_REQUESTS_P1 at pipeline 1, $BENCH_REQUESTS_P16 at pipeline 16; other options at" \
        "redis-benchmark defaults (3-byte values, keep-alive). One test per run, panda and redis" \
        "alternating, $BENCH_ROUNDS round(s); each cell is the median over rounds. ratio = panda/redis ops/s."
    emit ""
    emit "| test | pipeline | panda ops/s | redis ops/s | ratio | panda p50 ms | redis p50 ms | panda p99 ms | redis p99 ms |"
    emit "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    local what
    for pipe in $BENCH_PIPELINES; do
        for test in $BENCH_TESTS; do
            for name in panda redis; do
                key="$test/$pipe/$name"
                for what in rps p50 p99; do
                    # shellcheck disable=SC2086 # word-splitting the value list is intended
                    med[$key/$what]=$(median ${vals[$key/$what]:-})
                done
            done
            emit "| ${label[$test]:-${test^^}} | $pipe" \
                "| $(fmt '%.0f' "${med[$test/$pipe/panda/rps]}")" \
                "| $(fmt '%.0f' "${med[$test/$pipe/redis/rps]}")" \
                "| $(ratio "${med[$test/$pipe/panda/rps]}" "${med[$test/$pipe/redis/rps]}")" \
                "| $(fmt '%.3f' "${med[$test/$pipe/panda/p50]}")" \
                "| $(fmt '%.3f' "${med[$test/$pipe/redis/p50]}")" \
                "| $(fmt '%.3f' "${med[$test/$pipe/panda/p99]}")" \
                "| $(fmt '%.3f' "${med[$test/$pipe/redis/p99]}") |"
        done
    done
    emit ""
    for row in ${warnings[@]+"${warnings[@]}"}; do
        emit "$row"
        emit ""
    done
}

section_memory() {
    local stream="$BENCH_TMP/mem-set.resp" name before after
    local -A before_kb=() after_kb=() per_key=() failed=()

    bench_log "generating RESP stream of $BENCH_MEM_KEYS SETs"
    gen_set_stream "$stream" "$BENCH_MEM_KEYS"

    for name in panda redis; do
        BENCH_LAST_ERROR=""
        "start_$name"
        rcli "$name" FLUSHALL >/dev/null || true
        sleep 0.5
        before=$(vmrss_kb "$name" || true)
        after=""
        if [ -z "$before" ] || ! server_alive "$name"; then
            failed[$name]="server exited before loading"
        elif bench_log "$name: RSS before ${before} kB, loading $BENCH_MEM_KEYS keys" &&
            pipe_load "$name" "$stream" && wait_dbsize "$name" "$BENCH_MEM_KEYS" &&
            after=$(vmrss_kb "$name") && [ -n "$after" ]; then
            before_kb[$name]=$before
            after_kb[$name]=$after
            per_key[$name]=$(awk -v a="$after" -v b="$before" -v n="$BENCH_MEM_KEYS" \
                'BEGIN { printf "%.1f\n", (a - b) * 1024 / n }')
            bench_log "$name: RSS after ${after} kB, ${per_key[$name]} bytes/key"
        else
            failed[$name]=${BENCH_LAST_ERROR:-could not read VmRSS after loading}
            server_alive "$name" || failed[$name]+=" (server process exited)"
            bench_log "$name: memory load failed"
        fi
        stop_server "$name"
    done

    emit "## Memory"
    emit ""
    emit "Fresh process per server, FLUSHALL, VmRSS from /proc/PID/status, then $BENCH_MEM_KEYS" \
        "distinct SETs (16-byte keys \`k:%014d\`, 32-byte values) through \`redis-cli --pipe\`," \
        "VmRSS again once DBSIZE = $BENCH_MEM_KEYS. MB = 10^6 bytes;" \
        "bytes/key = (after - before) / $BENCH_MEM_KEYS."
    emit ""
    emit "| server | RSS before MB | RSS after MB | bytes/key |"
    emit "|---|---:|---:|---:|"
    for name in panda redis; do
        if [ -n "${per_key[$name]:-}" ]; then
            emit "| $name" \
                "| $(awk -v k="${before_kb[$name]}" 'BEGIN { printf "%.1f", k * 1024 / 1e6 }')" \
                "| $(awk -v k="${after_kb[$name]}" 'BEGIN { printf "%.1f", k * 1024 / 1e6 }')" \
                "| ${per_key[$name]} |"
        else
            emit "| $name | n/a | n/a | n/a |"
        fi
    done
    emit ""
    for name in panda redis; do
        if [ -n "${failed[$name]:-}" ]; then
            emit "**WARNING: $name memory load failed: ${failed[$name]}**"
            emit ""
        fi
    done
    emit "memory ratio panda/redis: $(ratio "${per_key[panda]:-n/a}" "${per_key[redis]:-n/a}") (target <= 0.60)"
    emit ""
}

# ---------------------------------------------------------------- main

for s in $BENCH_SECTIONS; do
    declare -F "section_$s" >/dev/null || die "unknown section '$s' in BENCH_SECTIONS"
done

section_header
for s in $BENCH_SECTIONS; do
    bench_log "section $s"
    "section_$s"
done

cp "$BENCH_REPORT" "$OUT_DIR/latest.md"
bench_log "report written to $OUT_DIR/latest.md"
