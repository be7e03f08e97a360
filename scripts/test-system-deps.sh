#!/usr/bin/env bash
# The two system packages the test suite needs beyond npm, checked (and, as root on Debian, installed)
# before `npm test` runs anything:
#   - redis-server (Debian): the BullMQ fan-out tests start a real Redis on a loopback port;
#   - Mesa's lavapipe from bookworm-backports (mesa-vulkan-drivers >= 23): WebGPU in Node over Dawn
#     (bookworm's own Mesa 22.3 lacks a Vulkan feature Dawn needs).
# Chromium needs nothing here: @sparticuz/chromium comes with `npm ci`.
# Not root, or not Debian: prints the exact command and fails (never a silently skipped suite).
set -euo pipefail

need_redis=0; need_mesa=0
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || need_redis=1
mesa_version=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
mesa_major=$(printf '%s' "$mesa_version" | sed -E 's/^([0-9]+:)?([0-9]+).*/\2/')
if [ ! -f /usr/share/vulkan/icd.d/lvp_icd.json ] || [ -z "$mesa_major" ] || [ "$mesa_major" -lt 23 ]; then need_mesa=1; fi
[ "$need_redis$need_mesa" = "00" ] && exit 0

backports="echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/bookworm-backports.list"
cmd="apt-get update && apt-get install -y"
[ $need_redis = 1 ] && cmd="$cmd redis-server"
[ $need_mesa = 1 ] && cmd="$backports && $cmd && apt-get install -y -t bookworm-backports mesa-vulkan-drivers"

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && grep -qs bookworm /etc/os-release; then
  echo "npm test: installing the system packages the tests need (as root): $cmd"
  if [ $need_mesa = 1 ] && ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/bookworm-backports.list
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  [ $need_redis = 1 ] && apt-get install -y -qq redis-server >/dev/null
  [ $need_mesa = 1 ] && apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers >/dev/null
  exit 0
fi
echo "npm test needs system packages it cannot install here (not root on Debian bookworm). Run, as root:" >&2
echo "  $cmd" >&2
exit 1
