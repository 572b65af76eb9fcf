#!/usr/bin/env node
// A committed launcher, so npm links the `sidecar` command at install time, before the TypeScript is built.
import('../dist/main.js').catch((e) => {
  console.error(
    `sidecar: ${e && e.code === 'ERR_MODULE_NOT_FOUND' ? 'not built yet: run `npx tsc -b` (npm start and npm test do it)' : e}`,
  );
  process.exit(2);
});
