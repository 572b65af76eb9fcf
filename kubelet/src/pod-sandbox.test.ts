import { beforeAll, describe, expect, it } from 'vitest';
import { Labels } from '@sidecar/core';
import { removeContainer } from './pod-sandbox.js';
import { TEST_IMAGES, docker, ensureTestImages, uniqueName } from './test-support.js';

const d = docker();
beforeAll(() => ensureTestImages(d));

describe('removeContainer', () => {
  it('resolves once the container is gone, also when another caller is removing it at the same time', async () => {
    const exists = async (id: string) => (await d.listContainers({ all: true, filters: { id: [id] } })).length > 0;
    for (let round = 0; round < 5; round++) {
      const c = await d.createContainer({
        name: uniqueName('remove-twice'),
        Image: TEST_IMAGES.pause,
        Labels: { [Labels.managed]: 'true', 'sidecar.paas/test': 'pod-sandbox' },
      });
      await c.start();
      // Two sweeps of the same abandoned container (two workers): the engine answers the later one 409
      // "removal … already in progress" while the first is under way. Each caller, once resolved, sees it gone.
      const checks = [0, 1].map(() => removeContainer(d, c.id).then(() => exists(c.id)));
      expect(await Promise.all(checks)).toEqual([false, false]);
    }
  });
});
