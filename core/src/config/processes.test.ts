import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, readersOf } from './processes.js';

describe('worker config for SIDECAR_TARGET=kubernetes', () => {
  const base = { SIDECAR_REDIS_URL: 'redis://127.0.0.1:6379', SIDECAR_DATA_DIR: '/tmp/x' };

  it('names each setting the Kubernetes target needs and the docker target does not', () => {
    expect(() => loadConfig('worker', { ...base })).not.toThrow();
    expect(() => loadConfig('worker', { ...base, SIDECAR_TARGET: 'kubernetes' })).toThrow(
      /SIDECAR_INGRESS_CLASS: required when SIDECAR_TARGET=kubernetes; SIDECAR_INGRESS_HOST_PATTERN: required .*; SIDECAR_REGISTRY: required/,
    );
    const c = loadConfig('worker', {
      ...base,
      SIDECAR_TARGET: 'kubernetes',
      SIDECAR_INGRESS_CLASS: 'nginx',
      SIDECAR_INGRESS_HOST_PATTERN: '{app}.example.com',
      SIDECAR_REGISTRY: 'registry.example.com:5000',
    });
    expect(c).toMatchObject({ SIDECAR_K8S_NAMESPACE: 'sidecar-apps', SIDECAR_K8S_PROGRESS_DEADLINE_SECONDS: 600 });
    expect(() => loadConfig('worker', { ...base, SIDECAR_INGRESS_HOST_PATTERN: 'apps.example.com' })).toThrow(
      /must contain \{app\}/,
    );
  });
});

describe('loadConfig', () => {
  it('gives each process only its variables, with defaults, frozen', () => {
    const c = loadConfig('router', {
      SIDECAR_REDIS_URL: 'redis://127.0.0.1:1',
      SIDECAR_DATA_DIR: '/data',
      SIDECAR_API_PORT: '1',
      HOME: '/root',
    });
    expect(c).toEqual({
      SIDECAR_REDIS_URL: 'redis://127.0.0.1:1',
      SIDECAR_REDIS_PREFIX: 'sidecar:',
      SIDECAR_PLATFORM_ID: 'default',
      SIDECAR_LOG_LEVEL: 'info',
      SIDECAR_DATA_DIR: '/data',
      SIDECAR_ROUTER_HOST: '127.0.0.1',
      SIDECAR_ROUTER_PORT: 8080,
      SIDECAR_ROUTER_TLS_PORT: 8443,
      SIDECAR_APPS_DOMAIN: 'localhost',
      SIDECAR_HAPROXY_BIN: 'haproxy',
      SIDECAR_ROUTER_THREADS: 0,
      SIDECAR_ROUTER_MAX_CONNECTIONS: 8000,
      SIDECAR_ROUTER_HEADER_TIMEOUT_MS: 10_000,
      SIDECAR_ROUTER_IDLE_TIMEOUT_MS: 60_000,
      SIDECAR_ROUTER_CONNECT_TIMEOUT_MS: 5_000,
      SIDECAR_ROUTER_RELOAD_GRACE_SECONDS: 3600,
      SIDECAR_ROUTER_OLD_WORKERS_MAX: 10,
      SIDECAR_ROUTER_TRUSTED_PROXIES: [],
      SIDECAR_ROUTER_METRICS_PORT: 0,
      SIDECAR_ROUTER_REQUEST_LOG: 'on',
      SIDECAR_ROUTER_ACCESS_LOG: 'file',
      SIDECAR_ROUTER_ACCESS_LOG_MAX_MIB: 100,
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('names every bad variable, and an empty value means the default', () => {
    expect(() => loadConfig('api', { SIDECAR_ADMIN_TOKEN: 'short', SIDECAR_API_PORT: 'x' })).toThrow(ConfigError);
    expect(() => loadConfig('api', { SIDECAR_ADMIN_TOKEN: 'short' })).toThrow(
      /SIDECAR_REDIS_URL: required; SIDECAR_DATA_DIR: required; SIDECAR_ADMIN_TOKEN: SIDECAR_ADMIN_TOKEN must be at least 16 characters/,
    );
    expect(loadConfig('cli', { SIDECAR_BACKOFF_SCALE: '' }).SIDECAR_BACKOFF_SCALE).toBe(1);
    expect(() => loadConfig('cli', { SIDECAR_BACKOFF_SCALE: '2' })).toThrow(/SIDECAR_BACKOFF_SCALE/);
  });

  it('the launcher needs no Redis, data dir or token (it makes them)', () => {
    expect(loadConfig('launcher', {})).toMatchObject({ SIDECAR_API_PORT: 3000, SIDECAR_ROUTER_PORT: 8080 });
  });

  it('knows which processes read a variable', () => {
    expect(readersOf('SIDECAR_REDIS_URL')).toEqual(['launcher', 'api', 'worker', 'router']);
    expect(readersOf('SIDECAR_RUN_DIR')).toEqual(['cli']);
  });
});
