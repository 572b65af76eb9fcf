#!/usr/bin/env bash
# `npm start`: prepare the host, build, and run the platform in the foreground.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/prepare-host.sh
npx tsc -b
npm run build -w @sidecar/web
exec node deploy/single-host/dist/platform.js "$@"
