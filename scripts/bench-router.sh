#!/usr/bin/env bash
# `npm run bench:router`: the router's data plane beside a direct connection and nginx (docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prepare-host.sh
# The load generator and the peer proxy, from the distribution (only when missing).
need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
  else
    echo "bench:router: install ${need[*]} (Debian/Ubuntu: sudo apt-get install ${need[*]}) and run again" >&2
    exit 1
  fi
fi
npx tsc -b
npx tsx test/bench/router.bench.ts
