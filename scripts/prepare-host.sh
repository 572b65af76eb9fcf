#!/usr/bin/env bash
# Makes this machine able to run the platform: system packages (only when root on
# Debian/Ubuntu; elsewhere it says what to install), a running Docker engine, and
# the project's npm dependencies. Idempotent: a second run does nothing but checks.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
command -v redis-server >/dev/null 2>&1 || need_pkgs+=(redis-server)
[ -x /bin/busybox ] || need_pkgs+=(busybox-static)
command -v git >/dev/null 2>&1 || need_pkgs+=(git)
# The router's data plane (docs/router.md).
command -v haproxy >/dev/null 2>&1 || need_pkgs+=(haproxy)
# The log shipper image is a static C binary compiled when the images are built (docs/sidecars.md):
# a C compiler, and libc.a (which `cc -print-file-name` names by its full path only when present).
command -v cc >/dev/null 2>&1 || need_pkgs+=(gcc)
{ command -v cc >/dev/null 2>&1 && [ -f "$(cc -print-file-name=libc.a)" ]; } || need_pkgs+=(libc6-dev)
# The test suite also drives a real browser and a real registry.
if [ "${1:-}" = "--for-tests" ]; then
  command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
  command -v docker-registry >/dev/null 2>&1 || need_pkgs+=(docker-registry)
fi

if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "prepare: installing ${need_pkgs[*]} with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >&2
  else
    echo "prepare: missing system packages: ${need_pkgs[*]}" >&2
    echo "  install them (Debian/Ubuntu: sudo apt-get install ${need_pkgs[*]}; elsewhere: a Docker Engine, redis-server, a static busybox at /bin/busybox, git, HAProxy 2.6 or later, a C compiler with a static libc, and for the tests Chromium and the CNCF distribution registry) and run again" >&2
    exit 1
  fi
fi

# A Docker engine. Started detached (setsid) so apps keep running when the platform stops.
if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v dockerd >/dev/null 2>&1; then
    echo "prepare: starting dockerd (log: /var/log/sidecar-dockerd.log)" >&2
    setsid nohup dockerd >/var/log/sidecar-dockerd.log 2>&1 < /dev/null &
    for _ in $(seq 1 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
    docker info >/dev/null 2>&1 || { echo "prepare: dockerd did not come up; see /var/log/sidecar-dockerd.log" >&2; exit 1; }
  else
    echo "prepare: no Docker engine answers at /var/run/docker.sock; start one (e.g. sudo systemctl start docker) and run again" >&2
    exit 1
  fi
fi

# npm dependencies, from the lockfile, when missing or stale.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "prepare: installing npm dependencies" >&2
  npm ci --no-audit --no-fund >&2
fi
