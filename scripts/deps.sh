#!/usr/bin/env bash
# Installs the Debian packages Panda needs that are missing. Usage: scripts/deps.sh build|test
# Runs apt-get only when something is missing, so repeated `make` calls stay fast.
set -euo pipefail

build_pkgs=(gcc make pkg-config libjemalloc-dev libxxhash-dev)
test_pkgs=(redis-server redis-tools python3-redis python3-pytest netcat-openbsd procps)

case "${1:-build}" in
build) want=("${build_pkgs[@]}") ;;
test) want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
*) echo "usage: $0 build|test" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts a system redis-server on 6379 after installing it; the tests and benchmarks
# start their own on free ports, so the service is not needed (and is absent in containers).
