// `npm run docs:config`: writes docs/configuration.md from the one config schema (core/src/config/).
import { writeFileSync } from 'node:fs';
import { renderConfigDoc } from '../core/dist/index.js';

writeFileSync(new URL('../docs/configuration.md', import.meta.url), renderConfigDoc());
