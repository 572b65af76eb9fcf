import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Labels } from '@sidecar/core';
import { POD_NETWORK } from './container-options.js';
import { createOnPodNetwork, ipv4SubnetOf, nextIn, rangeOf, startOnPodNetwork } from './pod-addresses.js';
import { ensurePodNetwork, removeContainer, removeStaleProbes } from './pod-sandbox.js';
import { TEST_IMAGES, docker, ensureTestImages, uniqueName } from './test-support.js';

describe('rangeOf / nextIn (pure)', () => {
  it('walks the host addresses of the subnet in turn, skipping the gateway, and wraps around', () => {
    const range = rangeOf('10.9.0.0/29', '10.9.0.1')!;
    expect(range.size).toBe(6); // .1–.6: not the network (.0) nor the broadcast (.7)
    const seen: string[] = [];
    for (let cursor = -1, i = 0; i < 7; i++) {
      const next = nextIn(range, cursor);
      seen.push(next.address);
      cursor = next.cursor;
    }
    expect(seen).toEqual(['10.9.0.2', '10.9.0.3', '10.9.0.4', '10.9.0.5', '10.9.0.6', '10.9.0.2', '10.9.0.3']);
  });

  it("reads a network's IPv4 subnet and gateway from its inspect, past an IPv6 one", () => {
    const v6 = { Subnet: 'fd00::/64', Gateway: 'fd00::1' };
    expect(ipv4SubnetOf({ IPAM: { Config: [v6, { Subnet: '172.20.0.0/16', Gateway: '172.20.0.1' }] } })).toEqual({
      Subnet: '172.20.0.0/16',
      Gateway: '172.20.0.1',
    });
    expect(ipv4SubnetOf({ IPAM: { Config: [{ Subnet: '10.1.0.0/24' }] } })).toEqual({ Subnet: '10.1.0.0/24' });
    expect(ipv4SubnetOf({ IPAM: { Config: [v6] } })).toBeUndefined();
    expect(ipv4SubnetOf({})).toBeUndefined();
  });

  it('takes no subnet it cannot hand out', () => {
    expect(rangeOf('fd00::/64')).toBeUndefined();
    expect(rangeOf('10.0.0.0/31')).toBeUndefined();
    expect(rangeOf('172.18.0.0/16', '172.18.0.1')).toMatchObject({ size: 65534 });
  });
});

describe('sandbox addresses on the engine', () => {
  const d = docker();
  const made: string[] = [];
  let network = '';

  const sandbox = async (address?: string) => {
    const name = uniqueName('addr');
    const c = await createOnPodNetwork(d, network, (chosen) => ({
      name,
      Image: TEST_IMAGES.pause,
      Labels: { [Labels.managed]: 'true', 'sidecar.paas/test': 'pod-addresses' },
      HostConfig: { NetworkMode: network },
      NetworkingConfig: { EndpointsConfig: { [network]: { IPAMConfig: { IPv4Address: address ?? chosen! } } } },
    }));
    made.push(c.id);
    await startOnPodNetwork(d, c.id);
    const info = await c.inspect();
    return { id: c.id, ip: info.NetworkSettings.Networks[POD_NETWORK]!.IPAddress };
  };

  beforeAll(async () => {
    await ensureTestImages(d);
    network = await ensurePodNetwork(d);
  });
  afterAll(async () => {
    for (const id of made) await removeContainer(d, id).catch(() => undefined);
  });

  it("a removed sandbox's address is not the next sandbox's (Docker alone would give it again)", async () => {
    const first = await sandbox();
    await removeContainer(d, first.id);
    const second = await sandbox();
    expect(second.ip).not.toBe(first.ip);
  });

  it('a sandbox whose address is taken starts on the next one', async () => {
    const holder = await sandbox();
    const clash = await sandbox(holder.ip);
    expect(clash.ip).not.toBe(holder.ip);
    expect(clash.ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  });
});

describe("the pod network's throwaway probe networks", () => {
  it('one left behind by a stopped process is removed once it is old; a younger one (in use) is left', async () => {
    const d = docker();
    const name = uniqueName('sidecar-pods-probe');
    // Only this test's network: a probe another test process uses right now is not this test's to remove.
    const named = (n: string) => n === name;
    const probe = await d.createNetwork({
      Name: name,
      Driver: 'bridge',
      Labels: { [Labels.managed]: 'true', [Labels.role]: 'pod-network-probe' },
    });
    try {
      await removeStaleProbes(d, { olderThanMs: 60_000, named });
      expect((await probe.inspect()).Id).toBe(probe.id);
      await removeStaleProbes(d, { olderThanMs: 0, named });
      await expect(probe.inspect()).rejects.toMatchObject({ statusCode: 404 });
    } finally {
      await probe.remove().catch(() => undefined);
    }
  });
});
