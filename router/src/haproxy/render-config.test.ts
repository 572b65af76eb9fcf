import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HTTP_DEFAULTS } from '@sidecar/core';
import { HOP_BY_HOP_LUA } from './hop-by-hop.lua.js';
import { type DataPlaneSettings, hostsMapText, type PlannedApp, renderConfig } from './render-config.js';

// The pure renderer, checked by HAProxy itself (`haproxy -c`) for the shapes the router produces.
const dir = mkdtempSync(join(tmpdir(), 'render-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const settings = (over: Partial<DataPlaneSettings> = {}): DataPlaneSettings => ({
  host: '127.0.0.1',
  port: 18080,
  domain: 'apps.example',
  threads: 2,
  maxConnections: 1000,
  headerTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  connectTimeoutMs: 5_000,
  reloadGraceSeconds: 3600,
  oldWorkersMax: 10,
  trustedProxies: [],
  adminSocket: join(dir, 'admin.sock'),
  hostsMap: join(dir, 'hosts.map'),
  luaFile: join(dir, 'hop.lua'),
  logPort: 1,
  wakePort: 2,
  requestLog: true,
  ...over,
});
const apps: PlannedApp[] = [
  { name: 'web', http: HTTP_DEFAULTS, servers: [{ pod: 'web-v1-abc', address: '127.0.0.1:32768' }] },
  { name: 'api-2', http: { ...HTTP_DEFAULTS, timeoutSeconds: 5, maxBodyMiB: 1, maxConcurrent: 3 }, servers: [] },
];

function check(text: string): void {
  writeFileSync(join(dir, 'hop.lua'), HOP_BY_HOP_LUA);
  writeFileSync(join(dir, 'hosts.map'), hostsMapText(apps, 'apps.example'));
  writeFileSync(join(dir, 'haproxy.cfg'), text);
  execFileSync('haproxy', ['-c', '-q', '-f', join(dir, 'haproxy.cfg')], { stdio: 'pipe' });
}

describe('renderConfig', () => {
  it('maps each app host to its backend and puts its settings there', () => {
    expect(hostsMapText(apps, 'Apps.Example')).toBe('web.apps.example web\napi-2.apps.example api-2\n');
    const text = renderConfig(settings(), apps);
    expect(text).toContain('backend app_api-2\n  balance roundrobin\n  timeout server 5s');
    expect(text).toContain(`if { req.hdr_val(content-length) gt ${1024 * 1024} }`);
    expect(text).toContain('if { sc1_conn_cur gt 3 }');
    expect(text).toContain('  server web-v1-abc 127.0.0.1:32768 pool-max-conn -1 pool-purge-delay 5s check');
    check(text);
  });

  it('gives an app that scales to zero the waker as its backup server, and only that app', () => {
    const text = renderConfig(settings({ wakePort: 4567 }), [{ ...apps[0]!, wakeOnRequest: true }, apps[1]!]);
    expect(text).toContain('  server web-v1-abc 127.0.0.1:32768 pool-max-conn -1 pool-purge-delay 5s check');
    expect(text).toContain('  server wake 127.0.0.1:4567 backup\n');
    expect(text.match(/server wake /g)).toHaveLength(1);
    check(text);
  });

  it('lets a replaced worker keep its connections for the grace, never shorter than the longest drain', () => {
    const text = renderConfig(settings({ oldWorkersMax: 4 }), apps);
    expect(text).toContain('  hard-stop-after 3600s\n  mworker-max-reloads 4\n');
    const short = settings({ reloadGraceSeconds: 10 });
    expect(renderConfig(short, apps)).toContain('  hard-stop-after 35s\n');
    const longDrain = [{ ...apps[0]!, http: { ...HTTP_DEFAULTS, drainSeconds: 600 } }];
    expect(renderConfig(short, longDrain)).toContain('  hard-stop-after 605s\n');
    check(text);
  });

  it('is valid with trusted proxies and with the request log off', () => {
    const text = renderConfig(settings({ trustedProxies: ['10.0.0.0/8', '::1'], requestLog: false }), apps);
    expect(text).toContain('acl trusted_peer src 10.0.0.0/8 ::1');
    expect(text).toContain('  no log');
    expect(text).not.toContain('log ring@');
    check(text);
  });
});
