#!/usr/bin/env bash
# Installs the Debian 12 packages that building, running and testing flashsale need.
# Idempotent and quick when everything is there already; needs root (or sudo) otherwise.
set -euo pipefail

packages=(
  gcc make meson ninja-build pkg-config clang-format clang libclang-rt-14-dev
  libh2o-evloop-dev libjansson-dev libsqlite3-dev libsodium-dev libhiredis-dev libpq-dev libcmocka-dev libjwt-dev libssl-dev zlib1g-dev
  sqlite3 redis-server postgresql postgresql-client nginx-light wrk nodejs npm curl chromium
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
# Node and npm may come from elsewhere than Debian's packages; any node >= 18 with fetch will do.
if command -v node >/dev/null 2>&1; then
  missing=("${missing[@]/nodejs}")
fi
if command -v npm >/dev/null 2>&1; then
  missing=("${missing[@]/npm}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
