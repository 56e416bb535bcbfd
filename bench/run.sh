#!/usr/bin/env bash
# Panda vs redis-server benchmark harness. See bench/README.md.
#
# Prints a markdown report on stdout (progress goes to stderr) and writes the
# same report to bench/out/latest.md. Numbers are informational only: nothing
# here is asserted by any test.
#
# Sections run in the order given by BENCH_SECTIONS (default
# "throughput memory durable replay snapshot pacing http"). To add one, define a function section_NAME below and
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
    q_rounds=1 q_p1=5000 q_p16=20000 q_mem=50000 q_dp1=2000 q_dp16=10000 q_replay=100000
    q_snap=50000 q_snapreq=10000
else
    q_rounds=5 q_p1=200000 q_p16=1000000 q_mem=1000000 q_dp1=100000 q_dp16=500000 q_replay=2000000
    q_snap=1000000 q_snapreq=200000
fi
BENCH_ROUNDS=${BENCH_ROUNDS:-$q_rounds}
BENCH_REQUESTS_P1=${BENCH_REQUESTS_P1:-$q_p1}
BENCH_REQUESTS_P16=${BENCH_REQUESTS_P16:-$q_p16}
BENCH_MEM_KEYS=${BENCH_MEM_KEYS:-$q_mem}
BENCH_DURABLE_REQUESTS_P1=${BENCH_DURABLE_REQUESTS_P1:-$q_dp1}
BENCH_DURABLE_REQUESTS_P16=${BENCH_DURABLE_REQUESTS_P16:-$q_dp16}
BENCH_DURABLE_RUN_TIMEOUT=${BENCH_DURABLE_RUN_TIMEOUT:-900}
BENCH_REPLAY_KEYS=${BENCH_REPLAY_KEYS:-$q_replay}
BENCH_REPLAY_TIMEOUT=${BENCH_REPLAY_TIMEOUT:-600}
BENCH_SNAPSHOT_KEYS=${BENCH_SNAPSHOT_KEYS:-$q_snap}
BENCH_SNAPSHOT_REQUESTS=${BENCH_SNAPSHOT_REQUESTS:-$q_snapreq}
BENCH_SNAPSHOT_TIMEOUT=${BENCH_SNAPSHOT_TIMEOUT:-600}
BENCH_SECTIONS=${BENCH_SECTIONS:-throughput memory durable replay snapshot pacing http}
BENCH_CLIENTS=50
BENCH_KEYSPACE=100000
BENCH_RUN_TIMEOUT=${BENCH_RUN_TIMEOUT:-300}
BENCH_TESTS="set get incr mset"
BENCH_PIPELINES="1 16"

for v in BENCH_ROUNDS BENCH_REQUESTS_P1 BENCH_REQUESTS_P16 BENCH_MEM_KEYS BENCH_RUN_TIMEOUT \
    BENCH_DURABLE_REQUESTS_P1 BENCH_DURABLE_REQUESTS_P16 BENCH_DURABLE_RUN_TIMEOUT \
    BENCH_REPLAY_KEYS BENCH_REPLAY_TIMEOUT BENCH_SNAPSHOT_KEYS BENCH_SNAPSHOT_REQUESTS \
    BENCH_SNAPSHOT_TIMEOUT; do
    case ${!v} in
    '' | *[!0-9]* | 0) die "$v must be a positive integer (got '${!v}')" ;;
    esac
done

for tool in redis-server redis-benchmark redis-cli awk timeout; do
    command -v "$tool" >/dev/null || die "$tool not found in PATH"
done
# python3 runs bench/snapshot_tool.py (snapshot section only: data generator, ready poller, snapshot loop)
BENCH_PYTHON=${BENCH_PYTHON:-/usr/bin/python3}
[ -x "$BENCH_PYTHON" ] || BENCH_PYTHON=$(command -v python3 || printf '%s' "$BENCH_PYTHON")
case " $BENCH_SECTIONS " in
*" snapshot "*) [ -x "$BENCH_PYTHON" ] || die "python3 not found (needed by the snapshot section; set BENCH_PYTHON)" ;;
esac
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

    # Redis runs without persistence here; Panda cannot turn its WAL off, so it runs with the
    # least durable policy (--fsync no: records reach the page cache, never fdatasync'd).
    start_panda --fsync no
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
        if [ "$name" = panda ]; then start_panda --fsync no; else start_redis; fi
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

# ---------------------------------------------------------------- durable writes

durable_requests_for() { # PIPELINE -> -n
    if [ "$1" = "1" ]; then printf '%s\n' "$BENCH_DURABLE_REQUESTS_P1"; else printf '%s\n' "$BENCH_DURABLE_REQUESTS_P16"; fi
}

# xr RATIO: "1.23x", or "n/a".
xr() { if [ "$1" = "n/a" ] || [ -z "$1" ]; then printf 'n/a\n'; else printf '%sx\n' "$1"; fi; }

# verdict RATIO TARGET [max]: "met" when RATIO >= TARGET (with max: RATIO <= TARGET),
# "NOT met", or "n/a".
verdict() {
    if [ "$1" = "n/a" ] || [ -z "$1" ]; then
        printf 'n/a\n'
    else
        awk -v r="$1" -v t="$2" -v max="${3:-}" \
            'BEGIN { ok = max ? r + 0 <= t + 0 : r + 0 >= t + 0; print ok ? "met" : "NOT met" }'
    fi
}

# info_field NAME SECTION FIELD: one `field:value` of INFO SECTION, value only.
info_field() {
    rcli "$1" INFO "$2" 2>/dev/null | tr -d '\r' | awk -F: -v f="$3" '$1 == f { print $2; exit }'
}

# path_bytes PATH...: total size in bytes of the regular files among PATHs
# (directories are walked); 0 if none exist.
path_bytes() {
    local p total=0 b
    for p in "$@"; do
        [ -e "$p" ] || continue
        b=$(find "$p" -type f -printf '%s\n' 2>/dev/null | awk '{ t += $1 } END { printf "%d\n", t }')
        total=$((total + b))
    done
    printf '%s\n' "$total"
}

# redis_aof_paths DIR: the AOF files redis keeps in DIR (7.x: appenddirname
# directory with a manifest; 6.x: a single appendonly.aof).
redis_aof_paths() {
    local dir=$1
    if [ -d "$dir/appendonlydir" ]; then printf '%s\n' "$dir/appendonlydir"; fi
    if [ -f "$dir/appendonly.aof" ]; then printf '%s\n' "$dir/appendonly.aof"; fi
}

# aof_listing DIR: the AOF files in DIR (relative names, comma-separated).
aof_listing() {
    (cd "$1" && { find appendonlydir appendonly.aof -type f 2>/dev/null || true; }) | sort | paste -sd, - | sed -e 's/,/, /g'
}

mb() { awk -v b="$1" 'BEGIN { printf "%.1f\n", b / 1e6 }'; }

# dsync_probe DIR: microseconds per 64-byte O_DSYNC write in DIR (a rough
# figure for what one fdatasync costs on this disk), or "n/a".
dsync_probe() {
    local f="$1/dsync-probe" t0 t1
    t0=$(now_us)
    if ! dd if=/dev/zero of="$f" bs=64 count=500 oflag=dsync status=none 2>/dev/null; then
        rm -f "$f"
        printf 'n/a\n'
        return 0
    fi
    t1=$(now_us)
    rm -f "$f"
    awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.0f\n", (a - b) / 500 }'
}

# The ceiling (bench/nullsrv.c): a RESP server that does no work, alone and with one
# append + fdatasync per loop iteration before it answers.
_nullsrv_cmd() { _CMD=("$BENCH_TMP/nullsrv" "$1"); }
_nullsync_cmd() { _CMD=("$BENCH_TMP/nullsrv" "$1" --fsync "$2/log"); }

# Durable SET throughput: panda's WAL against redis' AOF at the same fsync
# policy. Pairs (configuration ids):
#   always    panda --fsync always                       / redis appendfsync always
#   nogc      panda --fsync always --wal-group-commit no / (no redis)
#   everysec  panda --fsync everysec                     / redis appendfsync everysec
section_durable() {
    # fsync-bound runs (one fdatasync per write with nogc) take much longer
    # than the throughput section's; run_rb reads this variable.
    local BENCH_RUN_TIMEOUT=$BENCH_DURABLE_RUN_TIMEOUT
    local cfgs="always nogc everysec" cfg kind name round pipe n row csvname rps p50 p99 key what
    local -A pflags=([always]="--fsync always" [nogc]="--fsync always --wal-group-commit no"
        [everysec]="--fsync everysec")
    local -A rflags=([always]="--appendonly yes --appendfsync always"
        [everysec]="--appendonly yes --appendfsync everysec")
    local -A down=() vals=() med=() dirs=() expect=()
    local warnings=() checks=() args=() names=() ceil=()
    local fstype dsync_us

    fstype=$(df -PT "$BENCH_TMP" 2>/dev/null | awk 'NR == 2 { print $2 " on " $1 }' || true)
    dsync_us=$(dsync_probe "$BENCH_TMP")
    bench_log "data dirs on ${fstype:-unknown fs}; O_DSYNC 64-byte write: $dsync_us us"

    for cfg in $cfgs; do
        for kind in panda redis; do
            name="$kind-$cfg"
            if [ "$kind" = panda ]; then
                read -r -a args <<<"${pflags[$cfg]}"
                expect[$name]=${cfg/nogc/always}
            else
                [ -n "${rflags[$cfg]:-}" ] || continue
                read -r -a args <<<"${rflags[$cfg]}"
                expect[$name]=$cfg
            fi
            names+=("$name")
            if try_start "$name" "$kind" "" "${args[@]}"; then
                dirs[$name]=${SRV_DIR[$name]}
                row=$(check_commands "$name")
                if [ -n "$row" ]; then warnings+=("$row"); fi
            else
                down[$name]="did not start with \`${args[*]}\` ($BENCH_LAST_ERROR)"
                warnings+=("**WARNING: $name: ${down[$name]}**")
            fi
        done
    done

    if cc -O2 -o "$BENCH_TMP/nullsrv" "$BENCH_DIR/nullsrv.c"; then
        for kind in nullsrv nullsync; do
            try_start "ceiling-$kind" "$kind" "" && ceil+=("ceiling-$kind")
        done
    fi

    for round in $(seq 1 "$BENCH_ROUNDS"); do
        for pipe in $BENCH_PIPELINES; do
            n=$(durable_requests_for "$pipe")
            for name in "${names[@]}" ${ceil[@]+"${ceil[@]}"}; do
                [ -z "${down[$name]:-}" ] || continue
                if ! server_alive "$name"; then
                    bench_log "round $round: $name is not running, skipping set -P $pipe"
                    continue
                fi
                local nn=$n
                # one fdatasync per write runs at ~3k/s: a tenth of the requests is plenty
                if [ "$name" = panda-nogc ]; then nn=$((n / 10)); fi
                bench_log "round $round/$BENCH_ROUNDS: $name set -P $pipe -n $nn"
                if row=$(run_rb "$name" set "$pipe" "$nn"); then
                    IFS=$'\t' read -r csvname rps p50 p99 <<<"$row"
                    key="$name/$pipe"
                    vals[$key/rps]+="$rps "
                    vals[$key/p50]+="$p50 "
                    vals[$key/p99]+="$p99 "
                    bench_log "  -> $rps ops/s, p50 $p50 ms, p99 $p99 ms"
                fi
            done
        done
    done

    # Did each server really run with the durability it was asked for, and
    # write its log where we think it does?
    local nfail why got dir bytes
    for name in "${names[@]}"; do
        [ -z "${down[$name]:-}" ] || continue
        IFS=$'\t' read -r nfail why < <(rb_failures "$name")
        if [ "$nfail" -gt 0 ]; then
            warnings+=("**WARNING: $nfail redis-benchmark run(s) against $name failed; first: $why**")
        fi
        if ! server_alive "$name"; then
            warnings+=("**WARNING: $name exited during the durable runs; last log line: $(tail -n 1 "${SRV_LOG[$name]}" 2>/dev/null || true)**")
            continue
        fi
        if [ "${name%%-*}" = panda ]; then
            got=$(info_field "$name" persistence wal_fsync || true)
            if [ "$got" != "${expect[$name]}" ]; then
                warnings+=("**WARNING: $name: INFO persistence wal_fsync is '$got', expected '${expect[$name]}'**")
            fi
        else
            got="$(rcli "$name" CONFIG GET appendonly | tail -n 1)/$(rcli "$name" CONFIG GET appendfsync | tail -n 1)"
            if [ "$got" != "yes/${expect[$name]}" ]; then
                warnings+=("**WARNING: $name: appendonly/appendfsync is '$got', expected 'yes/${expect[$name]}'**")
            fi
            got=$(rcli "$name" CONFIG GET dir | tail -n 1)
            if [ "$got" != "${dirs[$name]}" ]; then
                warnings+=("**WARNING: $name: CONFIG GET dir is '$got', expected '${dirs[$name]}'**")
            fi
        fi
    done
    for name in "${names[@]}"; do
        [ -z "${down[$name]:-}" ] || continue
        stop_server "$name"
        dir=${dirs[$name]}
        if [ "${name%%-*}" = panda ]; then
            bytes=$(path_bytes "$dir/kv_database.wal")
            if [ "$bytes" -gt 0 ]; then
                checks+=("$name: $dir/kv_database.wal is $(mb "$bytes") MB")
            else
                warnings+=("**WARNING: $name: no WAL written ($dir/kv_database.wal missing or empty)**")
            fi
        else
            mapfile -t args < <(redis_aof_paths "$dir")
            bytes=$(path_bytes ${args[@]+"${args[@]}"})
            if [ "$bytes" -gt 0 ]; then
                checks+=("$name: AOF in the data dir ($(aof_listing "$dir")) is $(mb "$bytes") MB")
            else
                warnings+=("**WARNING: $name: no AOF (appendonlydir/ or appendonly.aof) in $dir**")
            fi
        fi
        rm -rf "$dir"
    done
    for name in ${ceil[@]+"${ceil[@]}"}; do stop_server "$name"; done

    for name in "${names[@]}" ${ceil[@]+"${ceil[@]}"}; do
        for pipe in $BENCH_PIPELINES; do
            for what in rps p50 p99; do
                # shellcheck disable=SC2086 # word-splitting the value list is intended
                med[$name/$pipe/$what]=$(median ${vals[$name/$pipe/$what]:-})
            done
        done
    done

    emit "## Durable writes"
    emit ""
    emit "SET only: redis-benchmark -c $BENCH_CLIENTS -r $BENCH_KEYSPACE -P {1,16} -t set --csv;" \
        "-n $BENCH_DURABLE_REQUESTS_P1 at pipeline 1, $BENCH_DURABLE_REQUESTS_P16 at pipeline 16" \
        "(3-byte values). Each server is its own process with a fresh data dir, all started" \
        "before the runs; the runs alternate between them, $BENCH_ROUNDS round(s); each cell is" \
        "the median over rounds. Rows: **always** = panda \`--fsync always\` vs redis" \
        "\`--appendonly yes --appendfsync always\`; **everysec** = panda \`--fsync everysec\` vs" \
        "redis \`--appendonly yes --appendfsync everysec\`; **always, no group commit** = panda" \
        "\`--fsync always --wal-group-commit no\` (one fdatasync per write; a tenth of the requests)," \
        "no redis, and its" \
        "ratio is panda always (group commit) / panda always without group commit. Other ratios" \
        "= panda/redis ops/s. Data dirs on ${fstype:-an unknown filesystem}; one 64-byte" \
        "O_DSYNC write there took about $dsync_us us. **ceiling** rows (same rounds):" \
        "bench/nullsrv.c, a RESP server that does no work (\`+OK\` to every command), alone" \
        "(ratio against redis everysec) and with one 64-byte append + fdatasync per loop" \
        "iteration before it answers (against redis always): what no server can beat with this" \
        "client on this machine."
    emit ""
    emit "| pair | pipeline | panda ops/s | redis ops/s | ratio | panda p50 ms | redis p50 ms | panda p99 ms | redis p99 ms |"
    emit "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    local label r
    for pipe in $BENCH_PIPELINES; do
        for cfg in $cfgs; do
            if [ "$cfg" = nogc ]; then
                label="always, no group commit"
                r=$(ratio "${med[panda-always/$pipe/rps]}" "${med[panda-nogc/$pipe/rps]}")
                emit "| $label | $pipe" \
                    "| $(fmt '%.0f' "${med[panda-nogc/$pipe/rps]}") | -" \
                    "| $r" \
                    "| $(fmt '%.3f' "${med[panda-nogc/$pipe/p50]}") | -" \
                    "| $(fmt '%.3f' "${med[panda-nogc/$pipe/p99]}") | - |"
                continue
            fi
            emit "| $cfg | $pipe" \
                "| $(fmt '%.0f' "${med[panda-$cfg/$pipe/rps]}")" \
                "| $(fmt '%.0f' "${med[redis-$cfg/$pipe/rps]}")" \
                "| $(ratio "${med[panda-$cfg/$pipe/rps]}" "${med[redis-$cfg/$pipe/rps]}")" \
                "| $(fmt '%.3f' "${med[panda-$cfg/$pipe/p50]}")" \
                "| $(fmt '%.3f' "${med[redis-$cfg/$pipe/p50]}")" \
                "| $(fmt '%.3f' "${med[panda-$cfg/$pipe/p99]}")" \
                "| $(fmt '%.3f' "${med[redis-$cfg/$pipe/p99]}") |"
        done
        for name in ${ceil[@]+"${ceil[@]}"}; do
            cfg=everysec label="ceiling: a server that does no work (nullsrv)"
            [ "$name" = ceiling-nullsync ] && cfg=always label="ceiling: no work but one fdatasync per loop iteration"
            emit "| $label, vs redis $cfg | $pipe" \
                "| $(fmt '%.0f' "${med[$name/$pipe/rps]}")" \
                "| $(fmt '%.0f' "${med[redis-$cfg/$pipe/rps]}")" \
                "| $(ratio "${med[$name/$pipe/rps]}" "${med[redis-$cfg/$pipe/rps]}")" \
                "| $(fmt '%.3f' "${med[$name/$pipe/p50]}")" \
                "| $(fmt '%.3f' "${med[redis-$cfg/$pipe/p50]}")" \
                "| $(fmt '%.3f' "${med[$name/$pipe/p99]}")" \
                "| $(fmt '%.3f' "${med[redis-$cfg/$pipe/p99]}") |"
        done
    done
    emit ""
    local line
    for cfg in always everysec; do
        line="target: panda $cfg >= 1.3x redis $cfg -"
        for pipe in $BENCH_PIPELINES; do
            r=$(ratio "${med[panda-$cfg/$pipe/rps]}" "${med[redis-$cfg/$pipe/rps]}")
            line+=" pipeline $pipe: $(xr "$r") ($(verdict "$r" 1.3));"
        done
        emit "${line%;}"
        emit ""
    done
    r=$(ratio "${med[panda-always/1/rps]}" "${med[redis-everysec/1/rps]}")
    emit "target: panda always >= 1.0x redis everysec at pipeline 1 - measured: $(xr "$r") ($(verdict "$r" 1.0))"
    emit ""
    line="group commit buys (panda always / panda always without group commit) -"
    for pipe in $BENCH_PIPELINES; do
        line+=" pipeline $pipe: $(xr "$(ratio "${med[panda-always/$pipe/rps]}" "${med[panda-nogc/$pipe/rps]}")");"
    done
    emit "${line%;}"
    emit ""
    for row in ${checks[@]+"${checks[@]}"}; do
        emit "- $row"
    done
    if [ "${#checks[@]}" -gt 0 ]; then emit ""; fi
    for row in ${warnings[@]+"${warnings[@]}"}; do
        emit "$row"
        emit ""
    done
}

# ---------------------------------------------------------------- replay

# _replay_one KIND: load $BENCH_REPLAY_KEYS SETs into a fresh KIND server with
# an unsynced log, stop it cleanly, restart it on the same dir and time the
# recovery. Fills the caller's rp_* arrays (keyed by KIND) or rp_fail[KIND].
_replay_one() {
    local kind=$1 dir log bytes line got secs
    local args=()
    if [ "$kind" = panda ]; then
        # no automatic snapshots: they would take records out of the log before the restart
        args=(--fsync no --snapshot-interval 0 --snapshot-timeout 0)
    else
        # no rewrite (it would turn the AOF into an RDB-preamble base file)
        args=(--appendonly yes --appendfsync no --auto-aof-rewrite-percentage 0 --aof-use-rdb-preamble no)
    fi
    if ! try_start "$kind" "$kind" "" "${args[@]}"; then
        rp_fail[$kind]="did not start with \`${args[*]}\`: $BENCH_LAST_ERROR"
        return 1
    fi
    dir=${SRV_DIR[$kind]}
    bench_log "$kind: loading $BENCH_REPLAY_KEYS keys"
    if ! pipe_load "$kind" "$rp_stream" || ! wait_dbsize "$kind" "$BENCH_REPLAY_KEYS" 600; then
        rp_fail[$kind]="load failed: $BENCH_LAST_ERROR"
        stop_server "$kind"
        return 1
    fi
    stop_server "$kind"
    if [ "$_LAST_EXIT" != 0 ]; then
        rp_fail[$kind]="exit status $_LAST_EXIT after SIGTERM (expected a clean shutdown, 0)"
        return 1
    fi
    if [ "$kind" = panda ]; then
        bytes=$(path_bytes "$dir/kv_database.wal")
    else
        mapfile -t args < <(redis_aof_paths "$dir")
        bytes=$(path_bytes ${args[@]+"${args[@]}"})
        args=(--appendonly yes --appendfsync no --auto-aof-rewrite-percentage 0 --aof-use-rdb-preamble no)
    fi
    if [ "$bytes" -eq 0 ]; then
        rp_fail[$kind]="no log file found in $dir after shutdown"
        return 1
    fi
    rp_bytes[$kind]=$bytes
    bench_log "$kind: log is $(mb "$bytes") MB; restarting on the same dir"
    [ "$kind" = redis ] || args+=(--log-level info)
    if ! try_start "$kind" "$kind" "$dir" "${args[@]}"; then
        rp_fail[$kind]="restart failed: $BENCH_LAST_ERROR"
        return 1
    fi
    rp_pong[$kind]=${SRV_READY_MS[$kind]}
    log=${SRV_LOG[$kind]}
    got=$(rcli "$kind" DBSIZE 2>/dev/null || true)
    if [ "$got" != "$BENCH_REPLAY_KEYS" ]; then
        rp_warn[$kind]="DBSIZE after restart is '$got', expected $BENCH_REPLAY_KEYS"
    fi
    if [ "$kind" = panda ]; then
        # `WAL replay: N records in X ms (Y records/s)`
        line=$(grep -o 'WAL replay: [0-9]* records in [0-9.]* ms ([0-9.]* records/s)' "$log" | tail -n 1 || true)
        if [ -n "$line" ]; then
            read -r "rp_records[panda]" "rp_ms[panda]" "rp_rps[panda]" < <(
                printf '%s\n' "$line" | sed -E 's/^WAL replay: ([0-9]+) records in ([0-9.]+) ms \(([0-9.]+) records\/s\)$/\1 \2 \3/')
        else
            rp_warn[panda]+="${rp_warn[panda]:+; }no \`WAL replay:\` line in the log"
            rp_records[panda]=$(info_field panda persistence wal_replayed_records || true)
            rp_ms[panda]=$(info_field panda persistence wal_replay_ms || true)
            if [ -n "${rp_records[panda]}" ] && [ -n "${rp_ms[panda]}" ]; then
                rp_warn[panda]+=" (figures from INFO wal_replayed_records / wal_replay_ms)"
                rp_rps[panda]=$(awk -v n="${rp_records[panda]}" -v ms="${rp_ms[panda]}" \
                    'BEGIN { if (ms > 0) printf "%.0f\n", n * 1000 / ms; else print "n/a" }')
            fi
        fi
    else
        got=$(info_field redis persistence loading || true)
        [ "$got" = 0 ] || rp_warn[redis]+="${rp_warn[redis]:+; }INFO loading is '$got' after the first PONG"
        rp_records[redis]=$(rcli redis DBSIZE 2>/dev/null || true)
        # "DB loaded from append only file: S seconds"
        secs=$(sed -nE 's/.*DB loaded from append only file: ([0-9.]+) seconds.*/\1/p' "$log" | tail -n 1)
        if [ -n "$secs" ]; then
            rp_ms[redis]=$(awk -v s="$secs" 'BEGIN { printf "%.0f\n", s * 1000 }')
            rp_rps[redis]=$(awk -v n="$BENCH_REPLAY_KEYS" -v s="$secs" \
                'BEGIN { if (s > 0) printf "%.0f\n", n / s; else print "n/a" }')
        else
            rp_warn[redis]+="${rp_warn[redis]:+; }no \`DB loaded from append only file\` line in the log"
        fi
    fi
    stop_server "$kind"
    rm -rf "$dir"
}

section_replay() {
    local BENCH_READY_TIMEOUT=$BENCH_REPLAY_TIMEOUT
    local rp_stream="$BENCH_TMP/replay-set.resp" kind
    local -A rp_fail=() rp_warn=() rp_bytes=() rp_pong=() rp_records=() rp_ms=() rp_rps=()

    bench_log "generating RESP stream of $BENCH_REPLAY_KEYS SETs"
    gen_set_stream "$rp_stream" "$BENCH_REPLAY_KEYS"
    for kind in panda redis; do
        _replay_one "$kind" || bench_log "$kind: replay measurement failed: ${rp_fail[$kind]}"
    done
    rm -f "$rp_stream"

    emit "## Log replay at start-up"
    emit ""
    emit "Fresh data dir; $BENCH_REPLAY_KEYS distinct SETs (16-byte keys, 32-byte values, the" \
        "memory section's stream) through \`redis-cli --pipe\`, SIGTERM (clean shutdown), restart" \
        "on the same dir. panda: \`--fsync no --snapshot-interval 0 --snapshot-timeout 0\` (the log keeps" \
        "every record), restarted with \`--log-level info\`; records," \
        "replay ms and records/s are from its \`WAL replay: N records in X ms (Y records/s)\` log" \
        "line. redis: \`--appendonly yes --appendfsync no --auto-aof-rewrite-percentage 0" \
        "--aof-use-rdb-preamble no\` (a pure command AOF); records = DBSIZE after the restart," \
        "replay ms from its \`DB loaded from append only file: S seconds\` log line, records/s =" \
        "keys / S. start-to-PONG = wall time from launching the process to the first \`+PONG\`" \
        "(redis answers \`-LOADING\` until \`loading:0\`), polled every 10 ms. MB = 10^6 bytes."
    emit ""
    emit "| server | records | WAL MB | replay ms | records/s | start-to-PONG ms |"
    emit "|---|---:|---:|---:|---:|---:|"
    local label
    for kind in panda redis; do
        if [ "$kind" = panda ]; then label="panda (WAL, --fsync no)"; else label="redis (AOF, appendfsync no)"; fi
        if [ -n "${rp_fail[$kind]:-}" ]; then
            emit "| $label | n/a | n/a | n/a | n/a | n/a |"
            continue
        fi
        emit "| $label | ${rp_records[$kind]:-n/a}" \
            "| $(fmt '%.1f' "$(awk -v b="${rp_bytes[$kind]}" 'BEGIN { print b / 1e6 }')")" \
            "| $(fmt '%.0f' "${rp_ms[$kind]:-n/a}")" \
            "| $(fmt '%.0f' "${rp_rps[$kind]:-n/a}")" \
            "| $(fmt '%.0f' "${rp_pong[$kind]:-n/a}") |"
    done
    emit ""
    local r=${rp_rps[panda]:-n/a}
    emit "target: >= 2,000,000 records/s - measured: $(fmt '%.0f' "$r") records/s ($(verdict "$r" 2000000))"
    emit ""
    for kind in panda redis; do
        if [ -n "${rp_fail[$kind]:-}" ]; then
            emit "**WARNING: $kind replay measurement failed: ${rp_fail[$kind]}**"
            emit ""
        fi
        if [ -n "${rp_warn[$kind]:-}" ]; then
            emit "**WARNING: $kind: ${rp_warn[$kind]}**"
            emit ""
        fi
    done
}

# ---------------------------------------------------------------- snapshot

# sn_tool ARGS...: bench/snapshot_tool.py (gen / ready / loop, see its docstring).
sn_tool() { "$BENCH_PYTHON" "$BENCH_DIR/snapshot_tool.py" "$@"; }

# _sn_timed NAME CMD: run `redis-cli CMD` against NAME (SNAPSHOT or SAVE, which
# reply +OK once the file is written) and set SN_MS to its wall time in ms
# (redis-cli start to exit). Returns 1 with BENCH_LAST_ERROR set unless the
# reply is OK.
_sn_timed() {
    local name=$1 cmd=$2 t0 t1 out
    SN_MS=""
    t0=$(now_us)
    out=$(timeout "$BENCH_SNAPSHOT_TIMEOUT" redis-cli -h 127.0.0.1 -p "${SRV_PORT[$name]}" "$cmd" 2>&1) || true
    t1=$(now_us)
    if [ "$out" != OK ]; then
        BENCH_LAST_ERROR="$cmd replied '$(printf '%s' "$out" | tr -s '\r\n' '  ' | tail -c 200)'"
        return 1
    fi
    SN_MS=$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.1f\n", (a - b) / 1000 }')
}

# _sn_shutdown NAME [SHUTDOWN ARGS...]: stop NAME with the SHUTDOWN command
# and wait (<= BENCH_SNAPSHOT_TIMEOUT s, then SIGTERM/SIGKILL) until the process
# has exited; its exit status is left in _LAST_EXIT.
_sn_shutdown() {
    local name=$1 pid=${SRV_PID[$1]:-} deadline rc=0
    shift
    [ -n "$pid" ] || return 0
    rcli "$name" SHUTDOWN "$@" >/dev/null 2>&1 || true
    deadline=$((SECONDS + BENCH_SNAPSHOT_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.02
    done
    if kill -0 "$pid" 2>/dev/null; then
        bench_log "$name (pid $pid) still running ${BENCH_SNAPSHOT_TIMEOUT}s after SHUTDOWN"
        _kill_pid "$pid"
    else
        wait "$pid" 2>/dev/null || rc=$?
        _LAST_EXIT=$rc
    fi
    bench_log "$name shut down (pid $pid, exit status $_LAST_EXIT)"
    unset "SRV_PID[$name]" "SRV_PORT[$name]" "SRV_LOG[$name]" "SRV_DIR[$name]"
}

# _sn_launch NAME KIND DIR [ARGS...]: start a KIND server on its existing data
# DIR and time it: SN_READY_MS = ms from launching the process until it answers
# PING with +PONG *and* DBSIZE with $BENCH_SNAPSHOT_KEYS. The poller
# (snapshot_tool.py ready, one socket, every 1 ms) is running before the
# server is launched. Registers the server in SRV_* like try_start. Returns 1
# with BENCH_LAST_ERROR set on failure.
_sn_launch() {
    local name=$1 kind=$2 dir=$3 port log pid poller t0 ready rc=0
    local go="$BENCH_TMP/sn-ready.go" pidf="$BENCH_TMP/sn-ready.pid"
    local out="$BENCH_TMP/sn-ready.out" errf="$BENCH_TMP/sn-ready.err"
    shift 3
    SN_READY_MS=""
    rm -f "$go" "$pidf" "$pidf.tmp"
    port=$(free_port) || die "no free TCP port found"
    log="$BENCH_TMP/$name-$port.log"
    _CMD=()
    "_${kind}_cmd" "$port" "$dir" "$@"
    sn_tool ready "$port" "$BENCH_SNAPSHOT_KEYS" "$BENCH_SNAPSHOT_TIMEOUT" "$go" "$pidf" >"$out" 2>"$errf" &
    poller=$!
    for _ in $(seq 1 2000); do
        [ ! -e "$go" ] || break
        sleep 0.005
    done
    t0=$(now_us)
    "${_CMD[@]}" >"$log" 2>&1 </dev/null &
    pid=$!
    printf '%s\n' "$pid" >"$pidf.tmp" && mv "$pidf.tmp" "$pidf"
    SRV_PID[$name]=$pid
    SRV_PORT[$name]=$port
    SRV_LOG[$name]=$log
    SRV_DIR[$name]=$dir
    wait "$poller" || rc=$?
    if [ "$rc" -ne 0 ]; then
        BENCH_LAST_ERROR="$name not ready (poller status $rc): $(tr -s '\r\n' '  ' <"$errf" | tail -c 300)"
        bench_log "$BENCH_LAST_ERROR; log tail:"
        tail -n 20 "$log" >&2 || true
        if ! server_alive "$name"; then
            wait "$pid" 2>/dev/null || true
            unset "SRV_PID[$name]" "SRV_PORT[$name]" "SRV_LOG[$name]" "SRV_DIR[$name]"
        fi
        return 1
    fi
    ready=$(head -n 1 "$out")
    SN_READY_MS=$(awk -v a="$ready" -v b="$t0" 'BEGIN { printf "%.1f\n", (a - b) / 1000 }')
    bench_log "$name restarted: pid $pid port $port, all keys loaded after $SN_READY_MS ms"
}

# _sn_latency KIND TEST MODE: one redis-benchmark run (-P 1, -d 32, keys
# key:%012d over the loaded key space) against KIND; MODE idle, or busy =
# while snapshot_tool.py loop takes snapshots back to back (panda: SNAPSHOT,
# redis: BGSAVE). Appends to the caller's vals[] / sn_loops[] / sn_warn[].
_sn_latency() {
    local kind=$1 test=$2 mode=$3 row csvname rps p50 p99 loop="" ok err secs first
    local stop="$BENCH_TMP/sn-loop.stop" start="$BENCH_TMP/sn-loop.start" res="$BENCH_TMP/sn-loop.out"
    local key="$kind/$test/$mode"
    if [ "$mode" = busy ]; then
        rm -f "$stop" "$start" "$res"
        if [ "$kind" = panda ]; then
            sn_tool loop "${SRV_PORT[$kind]}" snapshot "$stop" "$start" "$res" &
        else
            sn_tool loop "${SRV_PORT[$kind]}" bgsave "$stop" "$start" "$res" &
        fi
        loop=$!
        for _ in $(seq 1 2000); do
            [ ! -e "$start" ] || break
            sleep 0.005
        done
        sleep 0.05 # let the first snapshot's fork happen before the clients connect
    fi
    bench_log "round ${round:-?}/$BENCH_ROUNDS: $kind $test -P 1 -n $BENCH_SNAPSHOT_REQUESTS ($mode)"
    if row=$(run_rb "$kind" "$test" 1 "$BENCH_SNAPSHOT_REQUESTS" -d 32); then
        IFS=$'\t' read -r csvname rps p50 p99 <<<"$row"
        vals[$key/rps]+="$rps "
        vals[$key/p99]+="$p99 "
        bench_log "  -> $rps ops/s, p50 $p50 ms, p99 $p99 ms"
    fi
    if [ -n "$loop" ]; then
        : >"$stop"
        wait "$loop" 2>/dev/null || true
        if read -r ok err secs first <"$res" 2>/dev/null; then
            sn_loops[$key/ok]=$((${sn_loops[$key/ok]:-0} + ok))
            sn_loops[$key/err]=$((${sn_loops[$key/err]:-0} + err))
            sn_loops[$key/runs]=$((${sn_loops[$key/runs]:-0} + 1))
            if [ "$err" -gt 0 ] && [ -z "${sn_loops[$key/first]:-}" ]; then sn_loops[$key/first]=$first; fi
            bench_log "  snapshots during the run: $ok completed, $err failed (loop ${secs}s)"
        else
            sn_warn[$kind]+="${sn_warn[$kind]:+; }the snapshot loop wrote no result during a $test run"
        fi
    fi
}

# Parquet snapshot vs redis SAVE of the same $BENCH_SNAPSHOT_KEYS keys: time,
# file size, start-up from the file, and GET/SET p99 while snapshots run.
section_snapshot() {
    local BENCH_READY_TIMEOUT=$BENCH_SNAPSHOT_TIMEOUT
    local BENCH_KEYSPACE=$BENCH_SNAPSHOT_KEYS # redis-benchmark -r: key:000000000000 .. N-1, the loaded keys
    local stream="$BENCH_TMP/snap-set.resp" kind round test mode got bytes secs line n=$BENCH_SNAPSHOT_KEYS
    local -A sn_fail=() sn_warn=() sn_dir=() sn_bytes=() sn_shut=() vals=() med=() sn_loops=()
    local pargs=(--fsync everysec --snapshot-interval 0 --snapshot-timeout 0) args=()
    local SN_MS SN_READY_MS

    bench_log "generating RESP stream of $n SETs (key:%012d, 32 hex chars, seed 1)"
    sn_tool gen "$stream" "$n" 1 || die "snapshot_tool.py gen failed"
    for kind in panda redis; do
        if [ "$kind" = panda ]; then args=("${pargs[@]}"); else args=(); fi
        if ! try_start "$kind" "$kind" "" ${args[@]+"${args[@]}"}; then
            sn_fail[$kind]="did not start: $BENCH_LAST_ERROR"
            continue
        fi
        sn_dir[$kind]=${SRV_DIR[$kind]}
        bench_log "$kind: loading $n keys"
        if ! pipe_load "$kind" "$stream" || ! wait_dbsize "$kind" "$n" 600; then
            sn_fail[$kind]="load failed: $BENCH_LAST_ERROR"
            stop_server "$kind"
        fi
    done
    rm -f "$stream"

    # 1. Snapshot time and file size, panda and redis alternating.
    for round in $(seq 1 "$BENCH_ROUNDS"); do
        for kind in panda redis; do
            [ -z "${sn_fail[$kind]:-}" ] || continue
            if [ "$kind" = panda ]; then
                _sn_timed panda SNAPSHOT || { sn_fail[panda]="SNAPSHOT failed: $BENCH_LAST_ERROR"; continue; }
                vals[panda/snap]+="$SN_MS "
                secs=$(info_field panda persistence snapshot_last_duration_ms || true)
                [ -z "$secs" ] || vals[panda/snapsrv]+="$secs "
                got=$(info_field panda persistence snapshot_last_rows || true)
                if [ "$got" != "$n" ]; then
                    sn_warn[panda]+="${sn_warn[panda]:+; }snapshot_last_rows is '$got', expected $n"
                fi
                sn_bytes[panda]=$(path_bytes "${sn_dir[panda]}/kv_database.parquet")
                got=$(info_field panda persistence snapshot_last_bytes || true)
                if [ "$got" != "${sn_bytes[panda]}" ]; then
                    sn_warn[panda]+="${sn_warn[panda]:+; }snapshot_last_bytes '$got' differs from the file size ${sn_bytes[panda]}"
                fi
                bench_log "round $round/$BENCH_ROUNDS: panda SNAPSHOT $SN_MS ms (server: ${secs:-?} ms), ${sn_bytes[panda]} bytes"
            else
                _sn_timed redis SAVE || { sn_fail[redis]="SAVE failed: $BENCH_LAST_ERROR"; continue; }
                vals[redis/snap]+="$SN_MS "
                sn_bytes[redis]=$(path_bytes "${sn_dir[redis]}/dump.rdb")
                bench_log "round $round/$BENCH_ROUNDS: redis SAVE $SN_MS ms, ${sn_bytes[redis]} bytes"
            fi
        done
    done

    # 2. Start-up from the file: SHUTDOWN, relaunch on the same dir, time to
    # PONG with DBSIZE = N. panda: the WAL must hold no records (it is only
    # its header right after a snapshot); redis: SHUTDOWN NOSAVE keeps the
    # dump.rdb of the last SAVE.
    for round in $(seq 1 "$BENCH_ROUNDS"); do
        for kind in panda redis; do
            [ -z "${sn_fail[$kind]:-}" ] || continue
            if [ "$kind" = panda ]; then
                got=$(info_field panda persistence wal_records_since_snapshot || true)
                if [ "$got" != 0 ]; then
                    bench_log "panda: $got WAL records since the last snapshot; SNAPSHOT before shutdown"
                    _sn_timed panda SNAPSHOT || { sn_fail[panda]="SNAPSHOT before shutdown failed: $BENCH_LAST_ERROR"; continue; }
                fi
                _sn_shutdown panda
                args=("${pargs[@]}" --log-level info)
            else
                _sn_shutdown redis NOSAVE
                args=()
            fi
            if [ "$_LAST_EXIT" != 0 ]; then
                sn_warn[$kind]+="${sn_warn[$kind]:+; }exit status $_LAST_EXIT after SHUTDOWN (expected 0)"
            fi
            if [ "$kind" = panda ]; then
                sn_shut[panda]="$(path_bytes "${sn_dir[panda]}/kv_database.wal") bytes of WAL"
            else
                mapfile -t args < <(redis_aof_paths "${sn_dir[redis]}")
                sn_shut[redis]="$(path_bytes ${args[@]+"${args[@]}"}) bytes of AOF"
                args=()
            fi
            if ! _sn_launch "$kind" "$kind" "${sn_dir[$kind]}" ${args[@]+"${args[@]}"}; then
                sn_fail[$kind]="restart from the snapshot failed: $BENCH_LAST_ERROR"
                continue
            fi
            vals[$kind/ready]+="$SN_READY_MS "
            if [ "$kind" = panda ]; then
                got=$(info_field panda persistence snapshot_load_ms || true)
                [ -z "$got" ] || vals[panda/load]+="$got "
                got="$(info_field panda persistence snapshot_loaded_from || true)/$(info_field panda persistence snapshot_loaded_rows || true)/$(info_field panda persistence wal_replayed_records || true)"
                if [ "$got" != "parquet/$n/0" ]; then
                    sn_warn[panda]+="${sn_warn[panda]:+; }after restart snapshot_loaded_from/snapshot_loaded_rows/wal_replayed_records = $got, expected parquet/$n/0"
                fi
                # "loaded N keys from PATH in X ms (Y keys/s), snapshot LSN Z"
                line=$(grep -o 'loaded [0-9]* keys from [^ ]* in [0-9]* ms' "${SRV_LOG[panda]}" | tail -n 1 || true)
                if [ -n "$line" ]; then
                    vals[panda/loadlog]+="$(printf '%s\n' "$line" | awk '{ print $(NF - 1) }') "
                else
                    sn_warn[panda]+="${sn_warn[panda]:+; }no \`loaded N keys from\` line in the log"
                fi
            else
                # "DB loaded from disk: S seconds"
                secs=$(sed -nE 's/.*DB loaded from disk: ([0-9.]+) seconds.*/\1/p' "${SRV_LOG[redis]}" | tail -n 1)
                if [ -n "$secs" ]; then
                    vals[redis/load]+="$(awk -v s="$secs" 'BEGIN { printf "%.0f\n", s * 1000 }') "
                else
                    sn_warn[redis]+="${sn_warn[redis]:+; }no \`DB loaded from disk\` line in the log"
                fi
            fi
        done
    done

    # 3. GET / SET p99 without and with snapshots running back to back.
    for round in $(seq 1 "$BENCH_ROUNDS"); do
        for test in get set; do
            for kind in panda redis; do
                [ -z "${sn_fail[$kind]:-}" ] || continue
                if ! server_alive "$kind"; then
                    sn_fail[$kind]="server exited during the latency runs; last log line: $(tail -n 1 "${SRV_LOG[$kind]}" 2>/dev/null || true)"
                    continue
                fi
                for mode in idle busy; do
                    _sn_latency "$kind" "$test" "$mode"
                done
            done
        done
    done

    local nfail why
    for kind in panda redis; do
        IFS=$'\t' read -r nfail why < <(rb_failures "$kind")
        if [ "$nfail" -gt 0 ]; then
            sn_warn[$kind]+="${sn_warn[$kind]:+; }$nfail redis-benchmark run(s) failed; first: $why"
        fi
        # panda's warnings and errors during the latency runs (it was restarted with --log-level info)
        if [ "$kind" = panda ] && [ -n "${SRV_LOG[panda]:-}" ]; then
            nfail=$(grep -c '\[\(warn\|error\)\]' "${SRV_LOG[panda]}" || true)
            if [ "${nfail:-0}" -gt 0 ]; then
                why=$(grep -m 1 '\[\(warn\|error\)\]' "${SRV_LOG[panda]}" | cut -c 1-300)
                sn_warn[panda]+="${sn_warn[panda]:+; }$nfail warning/error line(s) in its log during the latency runs; first: \`$why\`"
            fi
            got=$(info_field panda persistence wal_bytes || true)
            bench_log "panda after the latency runs: wal_bytes ${got:-?}, wal_records_since_snapshot $(info_field panda persistence wal_records_since_snapshot || true)"
            sn_shut[panda_wal_after]=${got:-n/a}
        fi
        if [ -n "${SRV_PID[$kind]:-}" ]; then stop_server "$kind"; fi
        if [ -n "${sn_dir[$kind]:-}" ]; then rm -rf "${sn_dir[$kind]}"; fi
    done

    local what
    for kind in panda redis; do
        for what in snap snapsrv ready load loadlog; do
            # shellcheck disable=SC2086 # word-splitting the value list is intended
            med[$kind/$what]=$(median ${vals[$kind/$what]:-})
        done
        for test in get set; do
            for mode in idle busy; do
                for what in rps p99; do
                    # shellcheck disable=SC2086
                    med[$kind/$test/$mode/$what]=$(median ${vals[$kind/$test/$mode/$what]:-})
                done
            done
        done
        if [ -n "${sn_bytes[$kind]:-}" ]; then
            med[$kind/rows]=$(awk -v n="$n" -v ms="${med[$kind/snap]}" \
                'BEGIN { if (ms + 0 > 0) printf "%.0f\n", n * 1000 / ms; else print "n/a" }')
        else
            med[$kind/rows]=n/a
        fi
    done
    local r_snap r_srv r_size r_ready r_load
    r_snap=$(ratio "${med[redis/snap]}" "${med[panda/snap]}")
    r_srv=$(ratio "${med[redis/snap]}" "${med[panda/snapsrv]}")
    r_size=$(ratio "${sn_bytes[panda]:-n/a}" "${sn_bytes[redis]:-n/a}")
    r_ready=$(ratio "${med[redis/ready]}" "${med[panda/ready]}")
    r_load=$(ratio "${med[redis/load]}" "${med[panda/load]}")

    emit "## Snapshots (Parquet SNAPSHOT vs RDB SAVE)"
    emit ""
    emit "$n keys \`key:%012d\` (16 bytes) with 32-byte values (32 lowercase hex chars from a PRNG" \
        "with a fixed seed, 16 random bytes each: compressible at most about 2x), the same RESP" \
        "stream through \`redis-cli --pipe\` into each server. panda: \`--fsync everysec" \
        "--snapshot-interval 0 --snapshot-timeout 0\` (no automatic snapshots; default zstd codec);" \
        "redis: \`--save '' --appendonly no\`. **Snapshot**: wall time of \`redis-cli SNAPSHOT\`" \
        "(panda; forks, writes kv_database.parquet, fdatasyncs, replies +OK) and \`redis-cli SAVE\`" \
        "(redis; writes dump.rdb in the foreground), alternating, median of $BENCH_ROUNDS round(s);" \
        "rows/s = keys / that time. **Start-up**: SHUTDOWN (redis: SHUTDOWN NOSAVE after the SAVEs;" \
        "panda's WAL holds no records after its SNAPSHOT), relaunch on the same dir, time from" \
        "launching the process until it answers PING with +PONG and DBSIZE with $n (one socket" \
        "polled every 1 ms, the poller already running at launch), median of $BENCH_ROUNDS round(s)." \
        "ratio: redis time / panda time (speed-up) and panda bytes / redis bytes."
    emit ""
    emit "| measure | panda | redis | ratio |"
    emit "|---|---:|---:|---:|"
    emit "| snapshot wall ms (SNAPSHOT / SAVE) | $(fmt '%.0f' "${med[panda/snap]}") | $(fmt '%.0f' "${med[redis/snap]}") | $(xr "$r_snap") |"
    emit "| snapshot ms, server-reported (snapshot_last_duration_ms / -) | $(fmt '%.0f' "${med[panda/snapsrv]}") | - | $(xr "$r_srv") |"
    emit "| rows/s (keys / wall time) | $(fmt '%.0f' "${med[panda/rows]}") | $(fmt '%.0f' "${med[redis/rows]}") | $(xr "$(ratio "${med[panda/rows]}" "${med[redis/rows]}")") |"
    emit "| file bytes (kv_database.parquet / dump.rdb) | ${sn_bytes[panda]:-n/a} | ${sn_bytes[redis]:-n/a} | $(xr "$r_size") |"
    emit "| file bytes/key | $(fmt '%.1f' "$(awk -v b="${sn_bytes[panda]:-0}" -v n="$n" 'BEGIN { if (b > 0) print b / n; else print "n/a" }')")" \
        "| $(fmt '%.1f' "$(awk -v b="${sn_bytes[redis]:-0}" -v n="$n" 'BEGIN { if (b > 0) print b / n; else print "n/a" }')") | |"
    emit "| start-up ms: launch to PONG + DBSIZE = $n | $(fmt '%.0f' "${med[panda/ready]}") | $(fmt '%.0f' "${med[redis/ready]}") | $(xr "$r_ready") |"
    emit "| load ms, server-reported (snapshot_load_ms / \`DB loaded from disk\`) | $(fmt '%.0f' "${med[panda/load]}") | $(fmt '%.0f' "${med[redis/load]}") | $(xr "$r_load") |"
    emit "| load ms in panda's \`loaded N keys from ... in X ms\` log line | $(fmt '%.0f' "${med[panda/loadlog]}") | - | |"
    emit ""
    emit "At the last shutdown before a start-up: panda ${sn_shut[panda]:-n/a}, redis ${sn_shut[redis]:-n/a}." \
        "panda's WAL after the latency runs (idle and snapshotting): ${sn_shut[panda_wal_after]:-n/a} bytes."
    emit ""

    emit "GET and SET latency: \`redis-benchmark -c $BENCH_CLIENTS -P 1 -n $BENCH_SNAPSHOT_REQUESTS" \
        "-r $n -d 32 -t {get,set} --csv\` (keys \`key:__rand_int__\` = the loaded keys), once with no" \
        "snapshot running (idle) and once while a client takes snapshots back to back (panda:" \
        "SNAPSHOT again as soon as the last one replied; redis, for reference only: BGSAVE, then" \
        "INFO persistence every 10 ms until it is done, again). Each cell is the median over" \
        "$BENCH_ROUNDS round(s); ratio = p99 while snapshotting / p99 idle. The SET runs overwrite" \
        "values, so these run after the measurements above. With 2 shared cores the benchmark" \
        "client, the server and the snapshot child compete for CPU."
    emit ""
    emit "| test | server | p99 ms idle | p99 ms snapshotting | ratio | ops/s idle | ops/s snapshotting | snapshots per run: ok / failed |"
    emit "|---|---|---:|---:|---:|---:|---:|---:|"
    local -A p99r=()
    local label per
    for test in get set; do
        for kind in panda redis; do
            if [ "$kind" = panda ]; then label="panda (SNAPSHOT loop)"; else label="redis (BGSAVE loop, reference)"; fi
            p99r[$kind/$test]=$(ratio "${med[$kind/$test/busy/p99]}" "${med[$kind/$test/idle/p99]}")
            per=$(awk -v ok="${sn_loops[$kind/$test/busy/ok]:-0}" -v err="${sn_loops[$kind/$test/busy/err]:-0}" \
                -v r="${sn_loops[$kind/$test/busy/runs]:-0}" \
                'BEGIN { if (r > 0) printf "%.1f / %.1f\n", ok / r, err / r; else print "n/a" }')
            emit "| ${test^^} | $label" \
                "| $(fmt '%.3f' "${med[$kind/$test/idle/p99]}")" \
                "| $(fmt '%.3f' "${med[$kind/$test/busy/p99]}")" \
                "| $(xr "${p99r[$kind/$test]}")" \
                "| $(fmt '%.0f' "${med[$kind/$test/idle/rps]}")" \
                "| $(fmt '%.0f' "${med[$kind/$test/busy/rps]}")" \
                "| $per |"
        done
    done
    emit ""
    emit "target: snapshot >= 4x faster than redis SAVE - measured: $(xr "$r_snap") wall time" \
        "($(fmt '%.0f' "${med[panda/snap]}") ms vs $(fmt '%.0f' "${med[redis/snap]}") ms; $(xr "$r_srv")" \
        "with panda's snapshot_last_duration_ms) ($(verdict "$r_snap" 4))"
    emit ""
    emit "target: snapshot file <= 0.5x the RDB - measured: $(xr "$r_size")" \
        "(${sn_bytes[panda]:-n/a} vs ${sn_bytes[redis]:-n/a} bytes) ($(verdict "$r_size" 0.5 max))"
    emit ""
    emit "target: start-up >= 3x faster than redis loading its RDB - measured: $(xr "$r_ready")" \
        "($(fmt '%.0f' "${med[panda/ready]}") ms vs $(fmt '%.0f' "${med[redis/ready]}") ms to PONG with all keys)" \
        "($(verdict "$r_ready" 3))"
    emit ""
    for test in get set; do
        emit "target: ${test^^} p99 while snapshotting <= 2x p99 without - measured: $(xr "${p99r[panda/$test]}")" \
            "($(fmt '%.3f' "${med[panda/$test/busy/p99]}") ms vs $(fmt '%.3f' "${med[panda/$test/idle/p99]}") ms)" \
            "($(verdict "${p99r[panda/$test]}" 2 max))"
        emit ""
    done
    for kind in panda redis; do
        if [ -n "${sn_fail[$kind]:-}" ]; then
            emit "**WARNING: $kind snapshot measurement failed: ${sn_fail[$kind]}**"
            emit ""
        fi
        if [ -n "${sn_warn[$kind]:-}" ]; then
            emit "**WARNING: $kind: ${sn_warn[$kind]}**"
            emit ""
        fi
        for test in get set; do
            if [ "${sn_loops[$kind/$test/busy/err]:-0}" -gt 0 ]; then
                emit "**WARNING: $kind: ${sn_loops[$kind/$test/busy/err]} of" \
                    "$((${sn_loops[$kind/$test/busy/ok]:-0} + ${sn_loops[$kind/$test/busy/err]}))" \
                    "snapshots failed during the ${test^^} snapshotting runs; first error:" \
                    "\`${sn_loops[$kind/$test/busy/first]:-?}\`**"
                emit ""
            elif [ "${sn_loops[$kind/$test/busy/runs]:-0}" -gt 0 ] && [ "${sn_loops[$kind/$test/busy/ok]:-0}" -eq 0 ]; then
                emit "**WARNING: $kind: no snapshot completed during the ${test^^} snapshotting runs" \
                    "(raise BENCH_SNAPSHOT_REQUESTS)**"
                emit ""
            fi
        done
    done
}

# Snapshot pacing: the seed's defaults (a snapshot every 50 writes, or 180 s) under steady
# writes to a large keyspace, against the same run with automatic snapshots off. Reports the
# write rate and latency, the snapshots taken and the share of the time spent snapshotting
# (snapshot_total_ms / wall time), which the pacing rule bounds to about 1/5.
section_pacing() {
    local n=$BENCH_SNAPSHOT_KEYS mode line c0 c1 t0 t1 w0 w1 duty wal
    local BENCH_KEYSPACE=$n
    local stream="$BENCH_TMP/pacing.resp" requests=${BENCH_PACING_REQUESTS:-300000}
    [ "${BENCH_QUICK:-0}" = 1 ] && requests=${BENCH_PACING_REQUESTS:-20000}
    sn_tool gen "$stream" "$n" 1 || die "snapshot_tool.py gen failed"
    emit ""
    emit "## Snapshot pacing under steady writes"
    emit ""
    emit "panda with $n keys (as in the snapshot section), default fsync (always), then"
    emit "\`redis-benchmark -t set -c $BENCH_CLIENTS -P 1 -n $requests -r $n -d 32\`: once with automatic"
    emit "snapshots off, once with the seed's defaults (interval 50 writes, timeout 180 s) and"
    emit "the pacing rule (not sooner than max(1 s, 4 x the last snapshot's duration))."
    emit ""
    emit "| snapshots | ops/s | p50 ms | p99 ms | snapshots taken | time snapshotting | WAL bytes after |"
    emit "|---|---:|---:|---:|---:|---:|---:|"
    for mode in off defaults; do
        local args=()
        [ "$mode" = off ] && args=(--snapshot-interval 0 --snapshot-timeout 0)
        if ! try_start panda panda "" ${args[@]+"${args[@]}"}; then
            emit "| $mode | did not start: $BENCH_LAST_ERROR | | | | | |"
            continue
        fi
        if ! pipe_load panda "$stream" || ! wait_dbsize panda "$n" 600; then
            emit "| $mode | load failed: $BENCH_LAST_ERROR | | | | | |"
            stop_server panda
            continue
        fi
        sleep 1.5 # let the snapshot the load itself asked for start (cron, 10 Hz) and finish
        while [ "$(info_field panda persistence snapshot_in_progress)" = 1 ]; do sleep 0.1; done
        c0=$(info_field panda persistence snapshot_count)
        t0=$(info_field panda persistence snapshot_total_ms)
        w0=$(now_us)
        line=$(run_rb panda set 1 "$requests" -d 32) || line=""
        w1=$(now_us)
        c1=$(info_field panda persistence snapshot_count)
        t1=$(info_field panda persistence snapshot_total_ms)
        wal=$(info_field panda persistence wal_bytes)
        stop_server panda
        if [ -z "$line" ]; then
            emit "| $mode | redis-benchmark failed | | | | | |"
            continue
        fi
        duty=$(awk -v t="$((t1 - t0))" -v w="$((w1 - w0))" 'BEGIN { printf "%.1f%%", 100 * t * 1000 / w }')
        emit "$(printf '| %s | %.0f | %s | %s | %s | %s | %s |' "$mode" "$(cut -f2 <<<"$line")" \
            "$(cut -f3 <<<"$line")" "$(cut -f4 <<<"$line")" "$((c1 - c0))" "$duty" "$wal")"
    done
    rm -f "$stream"
}

# HTTP against RESP on one server: GET of one key through the HTTP API (wrk, 100 connections,
# two threads) and through RESP (redis-benchmark, 100 connections, pipeline 1, one thread and
# two), alternating, with the server's CPU time per request (the cost each path puts on the
# event loop, whichever client is the bottleneck).
# wrk_ms VALUE: wrk's latency ("812.00us", "1.20ms", "1.01s") in ms.
wrk_ms() {
    awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; printf "%.2f\n", n }'
}

# cpu_ticks NAME: user + system clock ticks the server has used.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/${SRV_PID[$1]}/stat"; }

# run_wrk URL SECONDS: prints "rps<TAB>p50_ms<TAB>p99_ms<TAB>errors<TAB>requests" (errors:
# socket errors plus non-2xx responses), or fails.
run_wrk() {
    local out rps p50 p99 errs reqs
    out=$(timeout $(($2 + 30)) wrk -t2 -c100 -d"$2"s --latency "$1" 2>&1) || return 1
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
    p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
    reqs=$(awk '/ requests in / { print $1 }' <<<"$out")
    errs=$(awk '/Socket errors/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 }
        /Non-2xx/ { n += $NF } END { print n + 0 }' <<<"$out")
    [ -n "$rps" ] || return 1
    printf '%s\t%s\t%s\t%s\t%s\n' "$rps" "$(wrk_ms "$p50")" "$(wrk_ms "$p99")" "$errs" "$reqs"
}

# run_rb_get N THREADS: redis-benchmark GET bench:http; prints "rps<TAB>p50<TAB>p99".
run_rb_get() {
    timeout "$BENCH_RUN_TIMEOUT" redis-benchmark -h 127.0.0.1 -p "${SRV_PORT[panda]}" -c 100 \
        -n "$1" --threads "$2" --csv GET bench:http 2>/dev/null | tr -d '"\r' |
        awk -F, '$1 != "test" && NF >= 8 { printf "%s\t%s\t%s\n", $2, $5, $7; found = 1; exit }
            END { exit !found }'
}

# us_per_req TICKS REQUESTS: server CPU microseconds per request.
us_per_req() { awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f\n", t * 1e6 / hz / n }'; }

section_http() {
    local hport round w r t0 seconds=${BENCH_HTTP_SECONDS:-10} n=${BENCH_HTTP_REQUESTS:-500000}
    local -A rps=() p50=() p99=() cpu=()
    local errs=0 value v
    [ "${BENCH_QUICK:-0}" = 1 ] && seconds=${BENCH_HTTP_SECONDS:-2} n=${BENCH_HTTP_REQUESTS:-20000}
    emit ""
    emit "## HTTP API against RESP (GET of one key)"
    emit ""
    if ! command -v wrk >/dev/null; then
        emit "wrk is not installed (Debian package wrk): section skipped."
        return 0
    fi
    hport=$(free_port) || die "no free TCP port found"
    start_panda --fsync no --http-port "$hport"
    value=$(printf 'v%.0s' $(seq 1 32))
    rcli panda SET bench:http "$value" >/dev/null
    emit "One panda (\`--fsync no\`), the key \`bench:http\` with a 32-byte value. HTTP: \`wrk -t2 -c100"
    emit "-d${seconds}s\` on \`GET /v1/kv/bench:http\` (keep-alive, one request at a time per connection)."
    emit "RESP: \`redis-benchmark -c 100 -n $n GET bench:http\` (pipeline 1) with one client thread and"
    emit "with two. Alternating, $BENCH_ROUNDS rounds, medians; the clients share the 2 cores with the server,"
    emit "so req/s mostly says which client saturates first; server CPU per request is what each path costs."
    emit ""
    for round in $(seq 1 "$BENCH_ROUNDS"); do
        bench_log "round $round/$BENCH_ROUNDS: wrk GET /v1/kv, then redis-benchmark GET (1 and 2 threads)"
        t0=$(cpu_ticks panda)
        if w=$(run_wrk "http://127.0.0.1:$hport/v1/kv/bench:http" "$seconds"); then
            rps[http]+=" $(cut -f1 <<<"$w")" p50[http]+=" $(cut -f2 <<<"$w")"
            p99[http]+=" $(cut -f3 <<<"$w")" errs=$((errs + $(cut -f4 <<<"$w")))
            cpu[http]+=" $(us_per_req $(($(cpu_ticks panda) - t0)) "$(cut -f5 <<<"$w")")"
        fi
        for v in 1 2; do
            t0=$(cpu_ticks panda)
            if r=$(run_rb_get "$n" "$v"); then
                rps[resp$v]+=" $(cut -f1 <<<"$r")" p50[resp$v]+=" $(cut -f2 <<<"$r")"
                p99[resp$v]+=" $(cut -f3 <<<"$r")"
                cpu[resp$v]+=" $(us_per_req $(($(cpu_ticks panda) - t0)) "$n")"
            fi
        done
    done
    stop_server panda
    emit "| protocol | client | req/s | p50 ms | p99 ms | server CPU us/req | errors |"
    emit "|---|---|---:|---:|---:|---:|---:|"
    # shellcheck disable=SC2086 # the lists are space-separated on purpose
    {
        emit "| HTTP | wrk -t2 -c100 | $(fmt %.0f "$(median ${rps[http]:-})") | $(fmt %.2f "$(median ${p50[http]:-})") | $(fmt %.2f "$(median ${p99[http]:-})") | $(fmt %.2f "$(median ${cpu[http]:-})") | $errs |"
        for v in 1 2; do
            emit "| RESP | redis-benchmark -c100 --threads $v | $(fmt %.0f "$(median ${rps[resp$v]:-})") | $(fmt %.2f "$(median ${p50[resp$v]:-})") | $(fmt %.2f "$(median ${p99[resp$v]:-})") | $(fmt %.2f "$(median ${cpu[resp$v]:-})") | |"
        done
        emit ""
        emit "HTTP/RESP req/s: $(ratio "$(median ${rps[http]:-})" "$(median ${rps[resp1]:-})") (one-thread client), $(ratio "$(median ${rps[http]:-})" "$(median ${rps[resp2]:-})") (two); server CPU per request HTTP/RESP: $(ratio "$(median ${cpu[http]:-})" "$(median ${cpu[resp2]:-})")"
        emit "(rounds, req/s: HTTP${rps[http]:- none}; RESP 1 thread${rps[resp1]:- none}; RESP 2 threads${rps[resp2]:- none})"
    }
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
