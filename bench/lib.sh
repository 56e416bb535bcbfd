# shellcheck shell=bash
# Helper functions for bench/run.sh. Sourced, never executed directly.
#
# Servers are identified by a short name ("panda", "redis", or any other
# name given to try_start). start_redis / start_panda / try_start record the
# port, pid, log and data directory of the running server in the associative
# arrays SRV_PORT, SRV_PID, SRV_LOG and SRV_DIR, keyed by that name, so the
# rest of the harness never hard-codes ports, plus SRV_READY_MS (milliseconds
# from launching the process to its first PONG). Every started server is
# stopped by bench_cleanup (installed as the EXIT trap by run.sh).
#
# Expected globals (set by run.sh before use):
#   BENCH_TMP          per-run scratch directory (removed at exit)
#   PANDA_BIN          panda-server executable
#   BENCH_CLIENTS      redis-benchmark -c
#   BENCH_KEYSPACE     redis-benchmark -r
#   BENCH_RUN_TIMEOUT  seconds before one redis-benchmark run is abandoned
#   BENCH_REPORT       file the report is accumulated in (see emit)
# Optional (a caller may override them with `local`, bash scoping is dynamic):
#   BENCH_READY_TIMEOUT  seconds a starting server may take to answer PING (15)

# shellcheck disable=SC2034 # SRV_LOG, SRV_DIR, SRV_READY_MS are read by run.sh
declare -gA SRV_PORT=() SRV_PID=() SRV_LOG=() SRV_DIR=() SRV_READY_MS=()
BENCH_LAST_ERROR=""
BENCH_READY_TIMEOUT=${BENCH_READY_TIMEOUT:-15}
_LAST_EXIT="" # exit status of the server process last reaped by _kill_pid / _wait_ready

bench_log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

die() {
    bench_log "ERROR: $*"
    exit 1
}

# emit LINE...: one line of the report, to stdout and to $BENCH_REPORT.
emit() {
    printf '%s\n' "$*"
    if [ -n "${BENCH_REPORT:-}" ]; then printf '%s\n' "$*" >>"$BENCH_REPORT"; fi
}

# ---------------------------------------------------------------- processes

# free_port: print a TCP port on 127.0.0.1 nobody listens on right now. Ports
# are drawn below the kernel's ephemeral range, so client connections (ours
# or anyone's) cannot be holding them.
free_port() {
    local p lo=20000 hi eph_lo
    eph_lo=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    hi=$((eph_lo - 1))
    if [ "$hi" -le $((lo + 1000)) ]; then # unusual ephemeral range: anywhere
        lo=20000 hi=60000
    fi
    for _ in $(seq 1 200); do
        p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            printf '%s\n' "$p"
            return 0
        fi
    done
    return 1
}

# rcli NAME ARGS...: redis-cli against server NAME (raw output, no tty formatting).
rcli() {
    local name=$1
    shift
    timeout 30 redis-cli -h 127.0.0.1 -p "${SRV_PORT[$name]}" "$@"
}

# now_us: wall clock in microseconds (bash 5 $EPOCHREALTIME, no fork).
now_us() { printf '%s\n' "${EPOCHREALTIME//[.,]/}"; }

# probe_pong PORT: true if a server on 127.0.0.1:PORT answers PING with +PONG.
# Pure bash (/dev/tcp), so polling it often costs the machine next to nothing.
# A server that is still loading its data (redis: -LOADING) counts as not ready.
probe_pong() {
    local port=$1 line="" fd
    { exec {fd}<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
    { printf 'PING\r\n' >&"$fd"; } 2>/dev/null || true
    IFS= read -r -t 5 line <&"$fd" || true
    exec {fd}>&-
    [ "${line%$'\r'}" = "+PONG" ]
}

# _wait_ready NAME PID PORT LOG T0_US: wait (<= $BENCH_READY_TIMEOUT s) until the
# server answers PING, polling every 10 ms; on success SRV_READY_MS[NAME] is the
# time since T0_US (when the process was launched). On failure BENCH_LAST_ERROR
# says why, and _LAST_EXIT holds the exit status if the process exited.
_wait_ready() {
    local name=$1 pid=$2 port=$3 log=$4 t0=$5 deadline rc=0
    deadline=$((t0 + BENCH_READY_TIMEOUT * 1000000))
    _LAST_EXIT=""
    while [ "$(now_us)" -lt "$deadline" ]; do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null || rc=$?
            _LAST_EXIT=$rc
            BENCH_LAST_ERROR="$name exited during startup (status $rc): $(tail -n 1 "$log" 2>/dev/null | tr -d '\r' | tail -c 300)"
            bench_log "$name (pid $pid, port $port) exited during startup (status $rc); log tail:"
            tail -n 20 "$log" >&2 || true
            return 1
        fi
        if probe_pong "$port"; then
            SRV_READY_MS[$name]=$(awk -v a="$(now_us)" -v b="$t0" 'BEGIN { printf "%.1f\n", (a - b) / 1000 }')
            return 0
        fi
        sleep 0.01
    done
    BENCH_LAST_ERROR="$name did not answer PING within ${BENCH_READY_TIMEOUT} s"
    bench_log "$name (pid $pid, port $port) did not answer PING within ${BENCH_READY_TIMEOUT} s; log tail:"
    tail -n 20 "$log" >&2 || true
    _kill_pid "$pid"
    return 1
}

# _start_server MODE NAME CMD-BUILDER DIR [EXTRA-ARGS...]
# MODE is "die" (exit the harness on failure) or "soft" (return 1, with
# BENCH_LAST_ERROR set). DIR is the data directory to use, or "" for a fresh
# one under $BENCH_TMP. CMD-BUILDER is a function called as
# `builder PORT DIR EXTRA...` that fills the global array _CMD with the
# command line. Retries on a port race (but not when panda rejected an option:
# exit status 2).
_start_server() {
    local mode=$1 name=$2 builder=$3 want_dir=$4 port dir log pid try t0
    shift 4
    if [ -n "${SRV_PID[$name]:-}" ]; then
        die "server $name already running (pid ${SRV_PID[$name]})"
    fi
    for try in 1 2 3 4 5; do
        port=$(free_port) || die "no free TCP port found"
        dir=${want_dir:-"$BENCH_TMP/$name-$port"}
        log="$BENCH_TMP/$name-$port.log"
        mkdir -p "$dir"
        _CMD=()
        "$builder" "$port" "$dir" "$@"
        t0=$(now_us)
        "${_CMD[@]}" >"$log" 2>&1 </dev/null &
        pid=$!
        SRV_PID[$name]=$pid
        SRV_PORT[$name]=$port
        SRV_LOG[$name]=$log
        SRV_DIR[$name]=$dir
        if _wait_ready "$name" "$pid" "$port" "$log" "$t0"; then
            bench_log "$name started: pid $pid port $port (ready after ${SRV_READY_MS[$name]} ms)"
            return 0
        fi
        unset "SRV_PID[$name]" "SRV_PORT[$name]" "SRV_LOG[$name]" "SRV_DIR[$name]"
        bench_log "$name start attempt $try failed"
        if [ "${_LAST_EXIT:-}" = "2" ]; then break; fi
    done
    if [ "$mode" = "soft" ]; then
        bench_log "could not start $name (command: ${_CMD[*]})"
        return 1
    fi
    die "could not start $name (command: ${_CMD[*]})"
}

_redis_cmd() {
    local port=$1 dir=$2
    shift 2
    _CMD=(redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" "$@")
}

_panda_cmd() {
    local port=$1 dir=$2
    shift 2
    # The HTTP port stays closed unless a section opens it (later flags win).
    _CMD=("$PANDA_BIN" --port "$port" --bind 127.0.0.1 --data-dir "$dir" --log-level warn \
        --http-port 0 "$@")
}

# start_redis [EXTRA redis-server ARGS...]  (later args override earlier ones,
# e.g. start_redis --appendonly yes --appendfsync always)
start_redis() { _start_server die redis _redis_cmd "" "$@"; }

# start_panda [EXTRA panda-server FLAGS...]  (later flags override earlier ones)
start_panda() { _start_server die panda _panda_cmd "" "$@"; }

# try_start NAME KIND DIR [EXTRA ARGS...]: start a server of KIND (panda or
# redis) under NAME, in data directory DIR ("" = a fresh one). Returns 1
# instead of exiting when the server does not come up (BENCH_LAST_ERROR says
# why), e.g. when panda rejects a flag it does not know.
try_start() {
    local name=$1 kind=$2 dir=$3
    shift 3
    _start_server soft "$name" "_${kind}_cmd" "$dir" "$@"
}

# _kill_pid PID: SIGTERM, wait up to 10 s, then SIGKILL. Only our own children.
# The exit status is left in _LAST_EXIT (143/137 = killed by SIGTERM/SIGKILL
# without handling it).
_kill_pid() {
    local pid=$1 rc=0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        bench_log "pid $pid ignored SIGTERM for 10 s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || rc=$?
    _LAST_EXIT=$rc
}

# stop_server NAME: SIGTERM (a clean shutdown for both servers); the exit
# status is left in _LAST_EXIT.
stop_server() {
    local name=$1 pid
    pid=${SRV_PID[$name]:-}
    [ -n "$pid" ] || return 0
    _kill_pid "$pid"
    bench_log "$name stopped (pid $pid, exit status $_LAST_EXIT)"
    unset "SRV_PID[$name]" "SRV_PORT[$name]" "SRV_LOG[$name]" "SRV_DIR[$name]"
}

# bench_cleanup: EXIT trap. Stops every server still running, removes scratch.
bench_cleanup() {
    local name
    for name in "${!SRV_PID[@]}"; do
        stop_server "$name"
    done
    if [ -n "${BENCH_TMP:-}" ] && [ -d "$BENCH_TMP" ]; then
        rm -rf "$BENCH_TMP"
    fi
}

# server_alive NAME: true if the recorded process still runs.
server_alive() {
    local pid=${SRV_PID[$1]:-}
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# vmrss_kb NAME: resident set size of the server process, in kB.
vmrss_kb() {
    awk '/^VmRSS:/ { print $2; found = 1 } END { exit !found }' "/proc/${SRV_PID[$1]}/status"
}

# ---------------------------------------------------------------- measuring

# run_rb NAME TEST PIPELINE REQUESTS [EXTRA redis-benchmark ARGS...]
# One redis-benchmark run of a single test (-t TEST, e.g. set, get, incr, mset).
# Prints "NAME_IN_CSV<TAB>rps<TAB>p50_ms<TAB>p99_ms"; returns 1 on failure and
# appends a one-line reason to $BENCH_TMP/rb-failures-NAME (see rb_failures).
run_rb() {
    local name=$1 test=$2 pipe=$3 n=$4 out rc=0 err why
    shift 4
    err="$BENCH_TMP/rb-$name-$test-$pipe.err"
    out=$(timeout "$BENCH_RUN_TIMEOUT" redis-benchmark -h 127.0.0.1 -p "${SRV_PORT[$name]}" \
        -c "$BENCH_CLIENTS" -n "$n" -r "$BENCH_KEYSPACE" -P "$pipe" -t "$test" --csv "$@" \
        2>"$err") || rc=$?
    if [ "$rc" -eq 0 ]; then
        # CSV: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",
        #      "p95_latency_ms","p99_latency_ms","max_latency_ms"
        if printf '%s\n' "$out" | tr -d '"\r' | awk -F, '
            $1 != "test" && NF >= 8 { printf "%s\t%s\t%s\t%s\n", $1, $2, $5, $7; found = 1; exit }
            END { exit !found }'; then
            return 0
        fi
        why="no CSV row in output"
    elif [ "$rc" -eq 124 ]; then
        why="timed out after ${BENCH_RUN_TIMEOUT}s"
    else
        why="exit status $rc"
    fi
    why="$test -P $pipe: $why; stderr: $(tr -s '\r\n' '  ' <"$err" | tail -c 300)"
    bench_log "redis-benchmark against $name failed: $why"
    printf '%s\n' "$why" >>"$BENCH_TMP/rb-failures-$name"
    return 1
}

# rb_failures NAME: number of failed run_rb calls for NAME, then the first reason.
rb_failures() {
    local f="$BENCH_TMP/rb-failures-$1"
    if [ -s "$f" ]; then
        printf '%s\t%s\n' "$(wc -l <"$f")" "$(head -n 1 "$f")"
    else
        printf '0\t\n'
    fi
}

# median NUMBER...: median (mean of the two middle values for an even count);
# prints "n/a" when given no numbers.
median() {
    if [ "$#" -eq 0 ]; then
        printf 'n/a\n'
        return 0
    fi
    printf '%s\n' "$@" | sort -g | awk '
        { a[NR] = $1 }
        END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.6f\n", m }'
}

# fmt FORMAT VALUE: printf-format a number, passing "n/a" through.
fmt() {
    if [ "$2" = "n/a" ] || [ -z "$2" ]; then
        printf 'n/a\n'
    else
        awk -v f="$1" -v v="$2" 'BEGIN { printf f "\n", v }'
    fi
}

# ratio A B: A/B with two decimals, "n/a" if either is missing or B is 0.
ratio() {
    if [ "$1" = "n/a" ] || [ "$2" = "n/a" ] || [ -z "$1" ] || [ -z "$2" ]; then
        printf 'n/a\n'
        return 0
    fi
    awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f\n", a / b }'
}

# gen_set_stream FILE COUNT: RESP stream of COUNT `SET k:%014d v:%030d`
# commands (16-byte keys, 32-byte values, all keys distinct).
gen_set_stream() {
    awk -v n="$2" 'BEGIN {
        for (i = 0; i < n; i++)
            printf "*3\r\n$3\r\nSET\r\n$16\r\nk:%014d\r\n$32\r\nv:%030d\r\n", i, i
    }' >"$1"
}

# pipe_load NAME FILE: send a RESP stream with redis-cli --pipe; fails on any
# error reply. On failure (here and in wait_dbsize) BENCH_LAST_ERROR says why.
pipe_load() {
    local name=$1 file=$2 out
    BENCH_LAST_ERROR=""
    out=$(timeout 600 redis-cli -h 127.0.0.1 -p "${SRV_PORT[$name]}" --pipe <"$file" 2>&1) || {
        BENCH_LAST_ERROR="redis-cli --pipe failed: $(printf '%s' "$out" | tr -s '\r\n' '  ' | tail -c 300)"
        bench_log "$name: $BENCH_LAST_ERROR"
        return 1
    }
    if ! printf '%s\n' "$out" | grep -q 'errors: 0,'; then
        BENCH_LAST_ERROR="redis-cli --pipe reported errors: $(printf '%s' "$out" | tr -s '\r\n' '  ' | tail -c 300)"
        bench_log "$name: $BENCH_LAST_ERROR"
        return 1
    fi
}

# wait_dbsize NAME COUNT [TIMEOUT_S]: wait until DBSIZE reports COUNT.
wait_dbsize() {
    local name=$1 want=$2 limit=${3:-120} got="" start=$SECONDS
    while [ $((SECONDS - start)) -lt "$limit" ]; do
        got=$(rcli "$name" DBSIZE 2>/dev/null || true)
        if [ "$got" = "$want" ]; then
            return 0
        fi
        sleep 0.2
    done
    BENCH_LAST_ERROR="DBSIZE is '$got', expected $want after ${limit}s"
    bench_log "$name: $BENCH_LAST_ERROR"
    return 1
}
