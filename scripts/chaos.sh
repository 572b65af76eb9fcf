#!/usr/bin/env bash
# `npm run chaos`: the chaos suite alone (test/chaos; npm test runs it after the main suite), its raw
# output kept with the commit and the machine's load under docs/benchmarks/chaos-<time>.txt; the
# figures of docs/reliability.md come from one such run (the `chaos: {...}` lines, one per fault).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prepare-host.sh --for-tests
npx tsc -b
node runtime-image/dist/images/build-images.js >/dev/null
out="docs/benchmarks/chaos-$(date -u +%Y-%m-%d-%H-%M).txt"
{
  echo "chaos suite, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit $(git rev-parse HEAD)$(git diff --quiet HEAD -- . ':!docs' || echo ' (with uncommitted changes)')"
  echo "machine: $(nproc) cores, uptime at start:$(uptime)"
} | tee "$out"
status=0
timeout --kill-after=60 "${SIDECAR_CHAOS_TIMEOUT_SECONDS:-1800}" npx vitest run -c vitest.chaos.config.ts --reporter=verbose "$@" 2>&1 |
  sed -u -e 's/\x1b\[[0-9;]*m//g' | tee -a "$out" || status=$?
echo "uptime at end:$(uptime)" | tee -a "$out"
echo "raw output: $out" >&2
node scripts/chaos-table.mjs "$out" >&2 || true
exit "$status"
