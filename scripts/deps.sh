#!/usr/bin/env bash
# Installs the Debian packages Panda needs that are missing. Usage: scripts/deps.sh build|test
# Runs apt-get only when something is missing, so repeated `make` calls stay fast.
set -euo pipefail

build_pkgs=(gcc make pkg-config libjemalloc-dev libxxhash-dev libzstd-dev libsnappy-dev liblz4-dev
    zlib1g-dev libcurl4-openssl-dev libedit-dev)
test_pkgs=(redis-server redis-tools python3-redis python3-pytest python3-boto3 netcat-openbsd procps
    nodejs npm tmux curl wrk prometheus)

case "${1:-build}" in
build) want=("${build_pkgs[@]}") ;;
test) want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
*) echo "usage: $0 build|test" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
    # NodeSource's nodejs package bundles npm and conflicts with Debian's npm package.
    [ "$p" = npm ] && command -v npm >/dev/null 2>&1 && continue
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}" >&2
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Parquet interop tests (tests/integration/test_parquet_interop.py) read and write files
# with DuckDB and hyparquet from npm, and the S3 tests run @20minutes/s3rver on loopback, all
# pinned in tests/interop/package.json. Installed only when missing, so a repeated
# `make test` does not touch the network.
if [ "${1:-build}" = test ]; then
    interop="$(cd "$(dirname "$0")/.." && pwd)/tests/interop"
    if [ ! -d "$interop/node_modules/@duckdb/node-api" ] || [ ! -d "$interop/node_modules/hyparquet" ] ||
        [ ! -d "$interop/node_modules/hyparquet-compressors" ] ||
        [ ! -d "$interop/node_modules/@20minutes/s3rver" ]; then
        echo "deps: npm install in tests/interop" >&2
        (cd "$interop" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
    fi
fi
# curl drives the HTTP tests, wrk loads the HTTP port (tests and bench), prometheus brings
# promtool, which checks GET /metrics. Debian starts a system redis-server on 6379 (and
# prometheus on 9090) after installing them; the tests and benchmarks
# start their own on free ports, so the service is not needed (and is absent in containers).
