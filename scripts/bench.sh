#!/usr/bin/env bash
# `npm run bench`: one run of the deploy benchmarks on this machine (see docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prepare-host.sh
npx tsc -b
npx tsx test/bench/deploy.bench.ts
