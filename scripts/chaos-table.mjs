#!/usr/bin/env node
// The table of docs/reliability.md from one chaos run's raw output (`npm run chaos` keeps it under
// docs/benchmarks/chaos-<time>.txt; `bash .ci/run`'s log has the same lines): one row per `chaos: {...}`
// line, in the order the tests printed them. Usage: node scripts/chaos-table.mjs <raw output file>
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) {
  console.error('usage: node scripts/chaos-table.mjs <raw chaos output>');
  process.exit(2);
}
const rows = readFileSync(file, 'utf8')
  .split('\n')
  .map((line) => line.replace(/\x1b\[[0-9;]*m/g, ''))
  .filter((line) => line.startsWith('chaos: {'))
  .map((line) => JSON.parse(line.slice('chaos: '.length)));

const requests = (r) =>
  `${r.failed} of ${r.sent}` + (r.failedAfterRecovery ? ` (${r.failedAfterRecovery} after recovery)` : '');
const duration = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms} ms`);
const recovery = (r) =>
  r.recoverMs == null ? '—' : duration(r.recoverMs) + (r.recoveredFrom ? ` from the ${r.recoveredFrom}` : '');

console.log('| Fault | What users see | App requests failed | API requests failed | Data lost | Time to recover |');
console.log('|---|---|---|---|---|---|');
for (const r of rows)
  console.log(
    `| ${r.fault} | ${r.usersSee} | ${requests(r.appRequests)} | ${requests(r.apiRequests)} | ${r.dataLost} | ${recovery(r)} |`,
  );
