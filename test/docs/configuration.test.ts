import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderConfigDoc } from '@sidecar/core';

describe('docs/configuration.md', () => {
  it('is what the config schema generates (run `npm run docs:config` after changing a variable)', () => {
    const committed = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    expect(committed).toBe(renderConfigDoc());
  });
});
