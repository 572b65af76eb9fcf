#!/usr/bin/env bash
# `npm test`: everything the suite needs, the static gates, then the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prepare-host.sh --for-tests
npx tsc -b
# Gates first: formatting, lint (typed, with import boundaries), and a type check of every file
# (sources, tests, fakes, benches, the dashboard).
npx prettier --check . >/dev/null || { npx prettier --list-different .; echo 'format: run `npm run format`' >&2; exit 1; }
npx eslint .
npx tsc -p tsconfig.check.json
npx tsc -p web/tsconfig.json
npm run build -w @sidecar/web
node runtime-image/dist/images/build-images.js >/dev/null
# A hang fails the run instead of blocking CI: per test (vitest.config.ts) and for the whole run here.
timeout --kill-after=60 "${SIDECAR_TEST_TIMEOUT_SECONDS:-3600}" npx vitest run "$@"
# Then the chaos suite (test/chaos; faults through real processes, one file at a time, on its own so
# its faults land on no other file's test): only for the whole suite, not for `npm test -- some/file`.
# SIDECAR_CHAOS=0 skips it. Each fault's figures go to stdout and, as JSON lines, to SIDECAR_CHAOS_REPORT.
if [ "$#" -eq 0 ] && [ "${SIDECAR_CHAOS:-1}" != 0 ]; then
  timeout --kill-after=60 "${SIDECAR_CHAOS_TIMEOUT_SECONDS:-1800}" npx vitest run -c vitest.chaos.config.ts
fi
