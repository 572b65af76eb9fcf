#!/usr/bin/env bash
# `npm test`: everything the suite needs, then the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prepare-host.sh --for-tests
npx tsc -b
npm run build -w @sidecar/web
node runtime-image/dist/images/build-images.js >/dev/null
npx vitest run "$@"
